"""The build maps the repository's top-level folders into the package: suites/, loadtests/,
fixtures/ and docker/ stay where they are in the repository (the design's layout) and land in the
wheel as imapwright/_shipped/<name>/, where imapwright/resources.py finds them. Everything else is
in pyproject.toml."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SHIPPED = ("suites", "loadtests", "fixtures", "docker")  # imapwright/resources.py reads the same names
LEFT_OUT = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", ".pytest_cache")


class BuildWithShipped(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads them from the checkout itself
        here = Path(__file__).resolve().parent
        target = Path(self.build_lib) / "imapwright" / "_shipped"
        for name in SHIPPED:
            if not (here / name).is_dir():
                raise SystemExit(f"imapwright build: {name}/ is missing from {here} (an incomplete sdist?)")
            shutil.rmtree(target / name, ignore_errors=True)
            shutil.copytree(here / name, target / name, ignore=LEFT_OUT)


setup(cmdclass={"build_py": BuildWithShipped})
