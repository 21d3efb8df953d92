"""Stage 1: from a Python function object to its AST, positioned on the user's real file lines."""

from __future__ import annotations
import __future__

import ast
import functools
import inspect
import keyword
import linecache
import operator
import symtable
import sys
import textwrap
import types
from dataclasses import dataclass

from zygote_engine.errors import UnsupportedConstructError

__all__ = ["FunctionSource", "get_source"]


@dataclass(frozen=True)
class FunctionSource:
    """A function's definition as an ``ast.FunctionDef`` whose line numbers are the file's."""

    node: ast.FunctionDef
    filename: str
    name: str
    freevars: tuple[str, ...]


def get_source(fn: types.FunctionType) -> FunctionSource:
    """Parse ``fn``'s source; lambdas become a one-statement ``def`` returning their body."""
    code = fn.__code__
    filename = code.co_filename
    try:
        # of the code object: inspect would follow a decorator's __wrapped__ to another function
        lines, start = inspect.findsource(code)
    except (OSError, TypeError) as error:
        raise UnsupportedConstructError(
            f"{filename}:{code.co_firstlineno}: function {fn.__qualname__} has no readable source "
            "(defined in a REPL, by exec, or compiled); zygote_engine needs the source to "
            "differentiate it: define it in a file or register an rrule for it"
        ) from error
    is_lambda = code.co_name == "<lambda>"
    tree = None if is_lambda else _parse_definition(lines, start, filename)
    if tree is None:
        tree = _parse(
            textwrap.dedent("".join(inspect.getblock(lines[start:]))), filename, start + 1
        )
    node = (
        _lambda_as_def(tree, fn, filename)
        if is_lambda
        else _find_def(tree, code.co_name, f"{filename}:{code.co_firstlineno}")
    )
    node.decorator_list = []
    return FunctionSource(node, filename, code.co_name, code.co_freevars)


def _parse_definition(lines: list[str], start: int, filename: str) -> ast.Module | None:
    """The ``def`` that starts at ``lines[start]`` (or its decorators do), parsed on its lines
    of the file; None where its end is not where indentation says (``inspect.getblock``, which
    tokenizes, then finds it: a tenth of a millisecond per line, on every first call).

    The definition ends before the first line of code after the ``def`` line that is indented
    no deeper than the ``def`` and does not close a bracket (the ``):`` of a long signature).
    A line of a string or an expression that continues less indented ends it too early, and
    what comes before does not parse.
    """
    first = lines[start]
    indent = len(first) - len(first.lstrip())
    header = start
    while lines[header].lstrip().startswith("@"):
        header += 1
    if not lines[header].lstrip().startswith(("def ", "async def ")):
        return None
    end = header + 1
    for i in range(header + 1, len(lines)):
        text = lines[i]
        code = text.lstrip()
        if not code or code.startswith("#"):
            continue
        if len(text) - len(code) <= indent and not code.startswith((")", "]", "}")):
            break
        end = i + 1
    source = textwrap.dedent("".join(lines[start:end]))
    try:
        return ast.parse("\n" * start + source, filename)  # (blank lines: the file's numbering)
    except SyntaxError:
        return None


def _parse(source: str, filename: str, first_line: int) -> ast.Module:
    """``source``, which starts on line ``first_line`` of its file, parsed on the file's lines."""
    try:
        return ast.parse("\n" * (first_line - 1) + source, filename)
    except SyntaxError:
        # A lambda inside a multi-line expression yields a fragment such as "key=lambda x: x)":
        # wrapping it in brackets usually makes it parse.
        for prefix, suffix in (("(", ")"), ("(", ""), ("[", "]"), ("{", "}")):
            try:
                tree = ast.parse(prefix + source.strip() + suffix, filename)
            except SyntaxError:
                continue
            return ast.increment_lineno(tree, first_line - 1)
        raise UnsupportedConstructError(
            f"{filename}:{first_line}: the source around this function could not be parsed on its "
            "own; define the function with `def` on lines of its own"
        ) from None


def _find_def(tree: ast.Module, name: str, where: str) -> ast.FunctionDef:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
        if isinstance(node, ast.AsyncFunctionDef) and node.name == name:
            return node  # rejected with a located message by the fence
    raise UnsupportedConstructError(
        f"{where}: could not find the definition of {name} in its source (was the file "
        "changed since it was imported? then restart the interpreter)"
    )


def _lambda_as_def(tree: ast.Module, fn: types.FunctionType, filename: str) -> ast.FunctionDef:
    lam = _find_lambda(tree, fn, filename)
    node = ast.FunctionDef(
        name="<lambda>",
        args=lam.args,
        body=[ast.Return(value=lam.body, lineno=lam.lineno, col_offset=lam.col_offset)],
        decorator_list=[],
        returns=None,
        type_comment=None,
        lineno=lam.lineno,
        col_offset=lam.col_offset,
    )
    return ast.fix_missing_locations(node)


def _find_lambda(tree: ast.Module, fn: types.FunctionType, filename: str) -> ast.Lambda:
    """The ``ast.Lambda`` that ``fn`` was compiled from, among the lambdas on its first line.

    One lambda with ``fn``'s parameters on the line is taken as is. Between several, the one
    whose body compiles, in a context like ``fn``'s, to the same code as ``fn`` is taken; when
    none does, the lambda cannot be told apart and this raises rather than guess.
    """
    code = fn.__code__
    line = code.co_firstlineno
    on_line = [n for n in ast.walk(tree) if isinstance(n, ast.Lambda) and n.lineno == line]
    if not on_line:
        raise UnsupportedConstructError(f"{filename}:{line}: could not find this lambda's source")
    params = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    candidates = [c for c in on_line if tuple(_arg_names(c.args)) == params] or on_line
    if len(candidates) == 1:
        return candidates[0]
    imported = _module_imports(filename, fn.__globals__)
    lam = _match_by_bytecode(candidates, code, _qualname(fn), imported)
    if lam is None:
        raise UnsupportedConstructError(
            f"{filename}:{line}: {len(candidates)} lambdas on this line could be this function and "
            "zygote_engine cannot tell which one it was given; put the lambdas on separate lines "
            "or define the function with `def`"
        )
    return lam


def _arg_names(args: ast.arguments):
    for a in (*args.posonlyargs, *args.args, *args.kwonlyargs):
        yield a.arg


def _qualname(fn: types.FunctionType) -> str:
    # ``co_qualname`` (3.11+) is fixed at compile time; ``__qualname__`` may have been reassigned.
    return getattr(fn.__code__, "co_qualname", fn.__qualname__)


# The __future__ features a code object was compiled under are recorded in its flags.
_FUTURE_FLAGS = functools.reduce(
    operator.or_, (getattr(__future__, name).compiler_flag for name in __future__.all_feature_names)
)
# Flags that describe the code itself, not where it was compiled (unlike CO_NESTED, CO_NOFREE).
_CODE_FLAGS = (
    inspect.CO_OPTIMIZED
    | inspect.CO_NEWLOCALS
    | inspect.CO_VARARGS
    | inspect.CO_VARKEYWORDS
    | inspect.CO_GENERATOR
    | inspect.CO_COROUTINE
    | inspect.CO_ITERABLE_COROUTINE
    | inspect.CO_ASYNC_GENERATOR
)
_WRAPPER = "__zygote_source_wrapper__"


def _module_imports(filename: str, module_globals: dict) -> tuple[str, ...]:
    """The names the lambda's module binds by ``import`` statements at its top level."""
    source = "".join(linecache.getlines(filename, module_globals))
    try:
        table = symtable.symtable(source, filename, "exec") if source else None
    except (SyntaxError, ValueError):
        table = None
    if table is None:  # best guess: the module-valued globals
        names = [name for name, v in module_globals.items() if isinstance(v, types.ModuleType)]
    else:
        names = [symbol.get_name() for symbol in table.get_symbols() if symbol.is_imported()]
    return tuple(sorted(n for n in names if n.isidentifier() and not keyword.iskeyword(n)))


def _match_by_bytecode(
    candidates: list[ast.Lambda],
    code: types.CodeType,
    qualname: str | None = None,
    imported: tuple[str, ...] = (),
) -> ast.Lambda | None:
    """The candidate that compiles to the same code as ``code``, or None when none does.

    Each candidate is compiled the way the real lambda was: inside a function that binds the
    real code's free variables as its locals (so the candidate reads them as free variables, not
    as globals), inside a class when the real lambda sits in one (private-name mangling,
    ``super()``), under the same ``__future__`` features, in a module that imports the same
    names at its top (from 3.11, ``m.f(x)`` compiles differently when ``m`` is imported there).
    Its code object is then compared with ``code`` field by field (bytecode, names, constants,
    nested code objects recursively, variables, argument counts), ignoring only what depends on
    the place of compilation (line and column tables, qualified names). Candidates that compile
    alike are interchangeable: the first is returned.
    """
    qualname = qualname or getattr(code, "co_qualname", code.co_name)
    target = _code_key(code, qualname)
    for lam in candidates:
        compiled = _compile_like(lam, code, qualname, imported)
        if compiled is not None and _code_key(*compiled) == target:
            return lam
    return None


def _enclosing_class(qualname: str) -> str | None:
    """The innermost class around a function of this qualified name (None at module level).

    In ``f.<locals>.C.m.<locals>.<lambda>``, a name followed by ``<locals>`` is a function, one
    in angle brackets a lambda or comprehension, any other name (``C``) a class.
    """
    parts = qualname.split(".")
    classes = [
        part
        for part, after in zip(parts, [*parts[1:], None])
        if not part.startswith("<") and after != "<locals>"
    ]
    return classes[-1] if classes else None


def _compile_like(
    lam: ast.Lambda, code: types.CodeType, qualname: str, imported: tuple[str, ...] = ()
) -> tuple[types.CodeType, str] | None:
    """Compile ``lam`` in a context like ``code``'s; its code object and qualified name."""
    bound = [name for name in code.co_freevars if name != "__class__"]
    assigns = "".join(f"    {name} = None\n" for name in bound)
    template = f"def {_WRAPPER}():\n{assigns}    return None\n"
    cls = _enclosing_class(qualname)
    if cls is not None and not cls.isidentifier():  # a reassigned qualified name
        cls = None
    if cls is None and "__class__" in code.co_freevars:
        cls = "__zygote_source_class__"
    if cls is not None:
        template = f"class {cls}:\n" + textwrap.indent(template, "    ")
    template = "".join(f"import _ as {name}\n" for name in imported) + template
    try:
        module = ast.parse(template)
    except SyntaxError:  # a name that cannot be bound this way
        return None
    for node in ast.walk(module):
        if "lineno" in node._attributes:
            node.lineno = node.end_lineno = lam.lineno
            node.col_offset = node.end_col_offset = 0
    wrapper = module.body[-1].body[0] if cls is not None else module.body[-1]
    wrapper.body[-1].value = lam
    try:
        compiled = compile(
            module, code.co_filename, "exec", flags=code.co_flags & _FUTURE_FLAGS, dont_inherit=True
        )
    except (SyntaxError, ValueError, TypeError):
        return None
    if cls is not None:
        compiled = _last_code(compiled)
    # The lambda's code follows that of any lambdas among its defaults.
    inner = _last_code(_last_code(compiled))
    if inner is None:
        return None
    prefix = f"{cls}.{_WRAPPER}" if cls is not None else _WRAPPER
    return inner, f"{prefix}.<locals>.<lambda>"


def _last_code(code: types.CodeType | None) -> types.CodeType | None:
    if code is None:
        return None
    return next((c for c in reversed(code.co_consts) if isinstance(c, types.CodeType)), None)


def _code_key(code: types.CodeType, qualname: str) -> tuple:
    """What identifies a code object's behaviour, independent of where it was compiled."""
    return (
        code.co_name,
        code.co_code,
        getattr(code, "co_exceptiontable", b""),
        code.co_argcount,
        code.co_posonlyargcount,
        code.co_kwonlyargcount,
        code.co_flags & _CODE_FLAGS,
        code.co_names,
        code.co_varnames,
        code.co_freevars,
        code.co_cellvars,
        tuple(_const_key(c, qualname) for c in code.co_consts),
    )


def _const_key(value, qualname: str):
    if isinstance(value, types.CodeType):
        return ("code", _code_key(value, qualname))
    if isinstance(value, tuple):
        return ("tuple", tuple(_const_key(v, qualname) for v in value))
    if isinstance(value, frozenset):
        return ("frozenset", frozenset(_const_key(v, qualname) for v in value))
    if isinstance(value, (float, complex)):
        return (type(value), repr(value))  # tells 0.0 from -0.0; nan equals itself
    if isinstance(value, str) and sys.version_info < (3, 11):
        # Before 3.11 the qualified name of a nested function is a constant of its parent.
        if value.startswith(qualname + ".<locals>."):
            return ("qualname", value[len(qualname) :])
    return (type(value), value)
