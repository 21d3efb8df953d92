"""Stage 1a: ``import`` statements in a function become assignments of what they import.

The names an import binds are ordinary variables then: a global declared with ``global`` or a
``nonlocal`` variable is routed like any other assignment, and the normal form has no import
statement. The helpers do the two steps of the bytecode, ``IMPORT_NAME`` and ``IMPORT_FROM``
(:func:`zygote_engine.primitives.import_name`, :func:`~zygote_engine.primitives.import_from`),
which have no derivative.

Example:
    >>> import ast
    >>> fn = ast.parse("def f(x):\\n    import os.path as p\\n    from . import m, n as k").body[0]
    >>> print(ast.unparse(without_imports(fn, "pkg", "__zy")))
    def f(x):
        p = __zy.import_from(__zy.import_name('os.path', None, 0, 'pkg'), 'path')
        __imported = __zy.import_name('', ('m', 'n'), 1, 'pkg')
        m = __zy.import_from(__imported, 'm')
        k = __zy.import_from(__imported, 'n')
"""

from __future__ import annotations

import ast

from zygote_engine.scopes import all_nodes, copy_tree

__all__ = ["without_imports"]


def without_imports(fn: ast.FunctionDef, package: str | None, helpers: str) -> ast.FunctionDef:
    """``fn`` with its import statements (in nested functions too) made assignments (a copy;
    ``fn`` itself when it has none). ``package`` is the package of the function's module, for
    relative imports; ``helpers`` is the name normalised code gives
    :mod:`zygote_engine.primitives`."""
    if not any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in all_nodes(fn)):
        return fn
    fn = copy_tree(fn)
    _Imports(package, helpers).visit(fn)
    ast.fix_missing_locations(fn)
    return fn


_MODULE = "__imported"  # the module that ``from m import a, b`` takes its names from


class _Imports(ast.NodeTransformer):
    def __init__(self, package: str | None, helpers: str):
        self.package, self.helpers = package, helpers

    def helper(self, name: str, *args: ast.expr) -> ast.Call:
        func = ast.Attribute(ast.Name(self.helpers, ast.Load()), name, ast.Load())
        return ast.Call(func=func, args=list(args), keywords=[])

    def import_name(self, module: str, fromlist: tuple[str, ...] | None, level: int) -> ast.Call:
        args = (module, fromlist, level, self.package)
        return self.helper("import_name", *(ast.Constant(a) for a in args))

    def visit_Import(self, node: ast.Import) -> list[ast.stmt]:
        out = []
        for alias in node.names:
            value: ast.expr = self.import_name(alias.name, None, 0)
            if alias.asname is None:  # ``import a.b`` binds ``a``
                target = alias.name.partition(".")[0]
            else:  # ``import a.b as c`` binds the module ``a.b``
                target = alias.asname
                for part in alias.name.split(".")[1:]:
                    value = self.helper("import_from", value, ast.Constant(part))
            out.append(ast.Assign(targets=[ast.Name(target, ast.Store())], value=value))
        return [ast.copy_location(s, node) for s in out]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> list[ast.stmt]:
        module = self.import_name(node.module or "", tuple(a.name for a in node.names), node.level)
        out = []
        if len(node.names) > 1:  # imported once, then each name taken from it in turn
            out.append(ast.Assign(targets=[ast.Name(_MODULE, ast.Store())], value=module))
            module = ast.Name(_MODULE, ast.Load())
        for alias in node.names:
            value = self.helper("import_from", module, ast.Constant(alias.name))
            target = ast.Name(alias.asname or alias.name, ast.Store())
            out.append(ast.Assign(targets=[target], value=value))
        return [ast.copy_location(s, node) for s in out]
