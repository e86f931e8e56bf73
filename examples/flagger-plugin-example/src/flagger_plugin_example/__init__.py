"""An example flagger plugin package: the ``fakemesh`` router and the ``constant`` metric backend.

Nothing here is part of flagger: the package is installed beside it and found through its
``flagger`` entry point (see ``pyproject.toml``), as any third-party plugin would be.
"""

__version__ = "0.1.0"
