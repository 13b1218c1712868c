"""Every spec table of tests/rules: the ``SPECS`` of each ``test_<topic>.py`` module that defines one.

A new topic's table (``tests/rules/test_fft.py`` starting a line with ``SPECS = [``) is found here by
its name, so the coverage and second-order checks cover it without a line changed elsewhere. (A module
is read before it is imported, so the checks that import this one are not imported by it.)
"""

import importlib
from pathlib import Path

__all__ = ["ALL_SPECS", "TABLE_MODULES"]

_HERE = Path(__file__).parent

TABLE_MODULES = [importlib.import_module(f"{__package__}.{path.stem}") for path in sorted(_HERE.glob("test_*.py"))
                 if "\nSPECS = " in path.read_text()]

ALL_SPECS = [spec for module in TABLE_MODULES for spec in module.SPECS]
