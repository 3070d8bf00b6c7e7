"""Suite-wide set-up."""

from __future__ import annotations


def pytest_configure(config) -> None:
    # colour-science (a test reference) puts a MagicMock in sys.modules["matplotlib"] when
    # matplotlib is missing, and a later `import diffusers` then fails in
    # importlib.util.find_spec ("matplotlib.__spec__ is not set"). Importing diffusers before any
    # test module imports colour keeps every worker process working.
    try:
        import diffusers  # noqa: F401
    except ImportError:  # the core installs without the diffusion extra
        pass
