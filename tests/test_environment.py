"""Every environment variable is declared once, and documented."""

import ast
import os
import re

import pushcollector
from pushcollector._impl import environment

PACKAGE = os.path.dirname(pushcollector.__file__)
DOCS = os.path.join(os.path.dirname(PACKAGE), "docs", "configuration.rst")


def documented_variables():
    with open(DOCS, encoding="utf-8") as page:
        return re.findall(r"^   \* - ``(PUSHCOLLECTOR_[A-Z_]+)``$", page.read(), re.M)


def test_the_configuration_page_lists_every_documented_variable_in_order():
    assert documented_variables() == [
        variable.name for variable in environment.DOCUMENTED
    ]


def test_the_page_gives_each_default():
    with open(DOCS, encoding="utf-8") as page:
        rows = [" ".join(row.split()) for row in page.read().split("   * - ``")[1:]]
    for variable in environment.DOCUMENTED:
        [row] = [row for row in rows if row.startswith(variable.name + "``")]
        if variable.default is not None:
            assert "Unset or empty means ``%s``" % variable.default in row
        else:
            assert "Unset or empty means none" in row


def test_no_module_names_a_variable_the_environment_module_does_not_declare():
    declared = {
        value.name
        for value in vars(environment).values()
        if isinstance(value, environment.Variable)
    }
    named_elsewhere = set()
    for directory, _, files in os.walk(PACKAGE):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(directory, name)
            with open(path, encoding="utf-8") as source:
                tree = ast.parse(source.read())
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and re.fullmatch(r"PUSHCOLLECTOR_[A-Z_]+", node.value)
                ):
                    assert path.endswith(
                        os.path.join("_impl", "environment.py")
                    ), "%s names %s: declare it in environment.py" % (path, node.value)
                    named_elsewhere.add(node.value)
    assert named_elsewhere == declared


def test_an_empty_variable_means_its_default(monkeypatch):
    monkeypatch.setenv("PUSHCOLLECTOR_BACKEND", "")
    assert environment.BACKEND.get() == "local"
    monkeypatch.setenv("PUSHCOLLECTOR_BACKEND", "memory")
    assert environment.BACKEND.get() == "memory"
    assert repr(environment.BACKEND) == "Variable('PUSHCOLLECTOR_BACKEND')"
