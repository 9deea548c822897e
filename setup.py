import runpy

from setuptools import find_packages, setup

# The package's version, from the one module that holds it, run on its own:
# importing the package would need its dependencies, not installed yet.
VERSION = runpy.run_path("pushcollector/_impl/version.py")["VERSION"]

with open("README.rst", encoding="utf-8") as readme:
    long_description = readme.read()

SERVER_REQUIRES = [
    "SQLAlchemy>=2.0",
    "alembic>=1.13",
    "jinja2>=3.1",
    "psycopg[binary]>=3.1",
    "starlette>=0.37",
    "uvicorn>=0.30",
]

setup(
    name="pushcollector",
    version=VERSION,
    description="Record push item states and log files of release tooling pushes",
    long_description=long_description,
    long_description_content_type="text/x-rst",
    license="GPLv3+",
    python_requires=">=3.9",
    packages=find_packages(exclude=["tests", "tests.*"]),
    package_data={
        "pushcollector._impl.schema": ["*.yaml", "*.json"],
        "pushcollector._impl.store": ["migrations/*.py", "migrations/versions/*.py"],
        "pushcollector._impl.server": ["templates/*.html", "static/*.css"],
    },
    include_package_data=True,
    # PyYAML and more-executors are no longer imported at run time; they stay
    # declared, as 1.3.0 declared them, so that environments built on it keep
    # what they had.
    install_requires=["jsonschema", "more-executors", "PyYAML", "requests", "tqdm"],
    extras_require={
        # The collection service and the sql backend.
        "server": SERVER_REQUIRES,
        "test": SERVER_REQUIRES
        + [
            "pytest",
            "pytest-cov",
            "requests-mock",
            "attrs",
            "hypothesis",
            "openapi-spec-validator",
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
