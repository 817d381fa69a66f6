"""The package list, found rather than written out: the one part of the build pyproject.toml cannot declare.

``pyproject.toml``'s ``[tool.setuptools.package-dir]`` maps the top-level folders into the
``orderledger`` namespace. Declarative package discovery (``packages.find``) names a package
after its folder (``domain.x``), not after the name it is mapped to (``orderledger.domain.x``),
so the subpackages below each mapped folder are found here, from that one table.
"""

import tomllib
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
PACKAGE_DIR: dict[str, str] = tomllib.loads((HERE / "pyproject.toml").read_text())["tool"]["setuptools"][
    "package-dir"
]

setup(
    packages=[
        package
        for name, folder in PACKAGE_DIR.items()
        for package in (name, *(f"{name}.{sub}" for sub in find_packages(str(HERE / folder))))
    ]
)
