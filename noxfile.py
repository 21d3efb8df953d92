"""Development sessions: ``nox -s tests``, ``nox -s lint``, ``nox -s docs``, ``nox -s bench``,
``nox -s properties``."""

import nox

nox.options.sessions = ["tests", "lint", "docs"]
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The whole test suite, with every docstring example run as a doctest."""
    session.install("-e", ".[test,interop]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def properties(session: nox.Session) -> None:
    """Many more random compositions of rules than CI runs, against finite differences."""
    session.install("-e", ".[test]")
    session.env["ZYGOTE_PROPERTY_EXAMPLES"] = session.posargs[0] if session.posargs else "3000"
    session.run("python", "-m", "pytest", "-q", "tests/zygote_engine/test_rule_compositions.py")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint rules and formatting."""
    session.install("ruff")
    session.run("ruff", "check", ".")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the Sphinx site with warnings as errors, then run every doctest in it."""
    session.install("-e", ".[docs,interop]")
    common = ["-W", "--keep-going", "-n", "docs"]
    session.run("sphinx-build", "-b", "html", *common, "docs/_build/html")
    session.run("sphinx-build", "-b", "doctest", *common, "docs/_build/doctest")


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmarks, each a script printing ratios against a baseline measured in the same run;
    bench_arrays.py also writes the table and the figure that docs/engine/performance.rst shows."""
    session.install("-e", ".[bench,interop]")  # interop: autograd, PyTorch and JAX columns
    for script in ("bench_core.py", "bench_engine.py"):
        session.run("python", f"benchmarks/{script}", *session.posargs)
    session.run(
        "python",
        "benchmarks/bench_arrays.py",
        "--plot",
        "docs/engine/performance.png",
        "--markdown",
        "docs/engine/performance_table.md",
        *session.posargs,
    )
