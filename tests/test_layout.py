"""The package's layout keeps its rules: every shared name has a home that
its users import by a public name, and modules import each other in one
direction, but for the one circle Collector.get() makes."""

import ast
import os

import pushcollector

PACKAGE = os.path.dirname(pushcollector.__file__)


def modules():
    """Each module of the package by dotted name, with its parsed source."""
    found = {}
    top = os.path.dirname(PACKAGE)
    for directory, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                dotted = os.path.relpath(path, top)[: -len(".py")].replace(os.sep, ".")
                dotted = (
                    dotted[: -len(".__init__")] if name == "__init__.py" else dotted
                )
                with open(path, encoding="utf-8") as source:
                    found[dotted] = (path, ast.parse(source.read()))
    return found


def imported_names(module, path, tree, known):
    """(module imported, name or None) of every import in the module, at any
    depth: imports inside functions count too."""
    package = (
        module.split(".") if path.endswith("__init__.py") else module.split(".")[:-1]
    )
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            for alias in node.names:
                submodule = "%s.%s" % (source, alias.name)
                if submodule in known:
                    yield submodule, None
                else:
                    yield source, alias.name


def test_no_module_imports_an_underscore_name_from_another():
    known = modules()
    private = [
        "%s imports %s from %s" % (module, name, source)
        for module, (path, tree) in known.items()
        for source, name in imported_names(module, path, tree, known)
        if source in known
        and source != module
        and name is not None
        and name.startswith("_")
        and not name.startswith("__")
    ]
    assert private == []


def import_circles(graph):
    """The strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(module):
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in graph[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = set()
            while True:
                other = stack.pop()
                on_stack.discard(other)
                group.add(other)
                if other == module:
                    break
            if len(group) > 1:
                circles.append(group)

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return circles


def test_the_only_import_circle_is_collector_and_facade():
    known = modules()
    graph = {
        module: {
            source
            for source, _ in imported_names(module, path, tree, known)
            if source in known and source != module
        }
        for module, (path, tree) in known.items()
    }

    assert import_circles(graph) == [
        {"pushcollector._impl.collector", "pushcollector._impl.facade"}
    ]


def test_a_circle_is_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_circles(graph) == [{"a", "b", "c"}]
