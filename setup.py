from setuptools import find_packages, setup

with open("README.rst", encoding="utf-8") as readme:
    long_description = readme.read()

setup(
    name="pushcollector",
    version="1.5.0",
    description="Record push item states and log files of release tooling pushes",
    long_description=long_description,
    long_description_content_type="text/x-rst",
    license="GPLv3+",
    python_requires=">=3.9",
    packages=find_packages(exclude=["tests", "tests.*"]),
    package_data={"pushcollector._impl.schema": ["*.yaml", "*.json"]},
    include_package_data=True,
    install_requires=["jsonschema", "more-executors", "requests"],
    extras_require={
        "test": [
            "pytest",
            "pytest-cov",
            "requests-mock",
            "attrs",
            "hypothesis",
            # The schema's source is YAML; the package loads its JSON copy.
            "PyYAML",
        ],
        "docs": ["sphinx", "pytest"],
    },
    entry_points={
        "console_scripts": ["pushcollector = pushcollector._impl.cli:main"],
        "pytest11": ["pushcollector = pushcollector.testing.pytest_plugin"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)",
    ],
)
