"""Rules for products (``dot``, ``vdot``, ``inner``, ``outer``, ``matmul`` and ``@`` on arrays,
``tensordot``, ``einsum``, ``kron``, ``cross``, ``vecdot``) and for ``numpy.linalg``.

Conventions
-----------
* Complex numbers follow the package convention: the cotangent of a complex ``z`` is
  ``dL/dRe(z) + i dL/dIm(z)``, so a complex-linear map pulls back with its conjugate transpose
  (``matmul``: ``dy @ b^H`` and ``a^H @ dy``). ``vdot`` and ``vecdot`` conjugate their first argument and
  are handled as such.
* Stacks: wherever numpy accepts stacks of matrices ``(..., M, N)`` so do the rules; cotangents of
  broadcast operands are summed back with ``unbroadcast``.
* Every contraction (``einsum`` and the products written as one: ``dot``, ``inner``, ``outer``,
  ``tensordot``, ``kron``, ``vecdot``) shares one mechanism: the cotangent of operand ``k`` is an
  einsum of the output cotangent with the other (conjugated) operands, with repeated indices (traces,
  diagonals) written back onto the diagonal and indices summed within operand ``k`` alone broadcast.
  ``einsum`` accepts the subscript string (implicit or explicit output, ellipsis, broadcasting) and
  the interleaved operand/sublist form.
* One triangle read: ``eigh`` and ``eigvalsh`` (the one ``UPLO`` names), ``cholesky`` (lower; upper
  with ``upper=True``), and ``svd``/``pinv`` with ``hermitian=True`` (lower: they call ``eigh``) never
  look at the other triangle, nor at the imaginary part of the diagonal. They are functions of
  ``S = R(A) = T + Tᴴ + Re diag(A)``, ``T`` the strict triangle read, and the rules are the derivatives
  of ``f(R(A))`` in every entry of ``A``, symmetric or not: the frule feeds ``R(dA)`` to the
  derivative on Hermitian matrices, and the pullback maps the cotangent ``G`` of ``S`` to
  ``R*(G) = tri(G + Gᴴ) + Re diag(G)`` (``tri`` the strict triangle read), zero in the triangle not
  read: a strict entry of ``T`` moves both ``S_ij`` and its mirror. On a Hermitian ``A`` moved along
  Hermitian directions this is the usual derivative.

Where the derivatives exist (documented conditions)
---------------------------------------------------
* ``inv``, ``solve``, ``det``, ``slogdet``, ``matrix_power`` with ``n < 0``: invertible input.
  ``slogdet``'s sign is locally constant for real input (its cotangent is ignored, its tangent zero);
  for complex input ``sign = exp(i arg det)`` is differentiable and gets its rule.
* ``pinv`` and ``lstsq``: full rank (the pseudo-inverse is discontinuous where the rank drops).
  ``lstsq`` returns ``(x, residuals, rank, sv)``: ``x``, the residuals (for ``M > N``) and the singular
  values are differentiable; ``rank`` gets ``NoTangent()``.
* ``eigh``: distinct eigenvalues. An exactly repeated eigenvalue gets no eigenvector term between its
  eigenvectors, which is right when the loss does not depend on the basis chosen inside that
  eigenspace; nearly equal eigenvalues make the eigenvector cotangent blow up as ``1/(w_i - w_j)``.
* ``eig``: distinct eigenvalues (complex output in general). Eigenvectors are defined up to a complex
  scale per column; the rule keeps numpy's unit norm (``Re(v_i^H dv_i) = 0``) and is correct for any
  loss that does not depend on the remaining phase of each column (always true when the eigenvectors
  are real).
* ``svd``: distinct nonzero singular values; the singular vectors are defined up to a joint sign
  (real) or phase (complex) per pair ``(u_i, v_i)`` and the cotangent is correct for losses that do
  not depend on that choice. ``compute_uv=False`` and ``svdvals`` only need distinct nonzero
  singular values. With ``full_matrices=True`` on a non-square matrix, the extra columns ``U₂`` of
  ``U`` (rows of ``Vh``) span the orthogonal complement, which the matrix determines, but any ``U₂ W``
  (``W`` unitary) spans it too: LAPACK's choice has no derivative the matrix determines. The rules
  move ``U₂`` with no motion inside its span (``U₂ᴴ dU₂ = 0``, so ``dU₂ = -U₁ dU₁ᴴ U₂``), which is the
  derivative of every loss that depends on ``U₂`` only through its span (``U₂ U₂ᴴ = I - U₁ U₁ᴴ``,
  ``‖U₂ᴴ x‖``, …). A loss that reads single extra columns has no well-defined derivative: use
  ``full_matrices=False``.
* ``qr``: ``mode='reduced'``, ``'r'`` or ``'complete'``, full rank; numpy's ``R`` has a real
  diagonal, which fixes the gauge. The extra columns of a complete ``Q`` of a tall matrix are
  treated as those of a full ``svd`` (right for losses that see only their span); the zero rows
  under a complete ``R`` have zero derivative. ``mode='raw'`` is not supported.
* ``norm``/``vector_norm``/``matrix_norm``: ``ord=0`` counts nonzeros and has zero derivative; for the
  ``max``/``min`` based ords (``±inf`` for vectors, ``±1`` and ``±inf`` for matrices) tied entries share
  the cotangent equally; ``2``/``-2`` for matrices need a simple extreme singular value; every norm is
  taken to have zero derivative at the origin.
"""

from __future__ import annotations

import numbers
import operator
import string

import numpy as np

from chainrules.calls import no_tangents
from chainrules.numpy.factorization import DTYPES as LU_DTYPES
from chainrules.numpy.factorization import lu_of
from chainrules.numpy.shape import size_of
from chainrules_core import (
    AbstractZero,
    NoTangent,
    ProjectTo,
    Tangent,
    ZeroTangent,
    frule,
    non_differentiable,
    rrule,
    thunk,
    unbroadcast,
    unthunk,
)
from chainrules_core.arrays import ARRAY_TYPES

# ----------------------------------------------------------------------------------------------------
# Shared helpers
# ----------------------------------------------------------------------------------------------------


def _H(x):
    """Conjugate transpose of the last two axes (a view, with no copy, for real arrays)."""
    t = np.swapaxes(x, -1, -2)
    return np.conj(t) if np.iscomplexobj(t) else t


def _is_zero(t) -> bool:
    return isinstance(t, AbstractZero)


def _diag(v):
    """The stack of diagonal matrices with diagonals ``v`` (shape ``(..., n)``), of ``v``'s dtype."""
    return np.expand_dims(v, -1) * np.eye(np.shape(v)[-1], dtype=bool)


def _diagonal(x):
    return np.diagonal(x, axis1=-2, axis2=-1)


def _hermitian_read(a, lower: bool, conjugate: bool = True):
    """The Hermitian matrix that LAPACK builds from one triangle of ``a`` (``conjugate=False``: the
    complex symmetric one). A Hermitian diagonal is taken as real: its imaginary part is never read."""
    strict = np.tril(a, -1) if lower else np.triu(a, 1)
    mirrored = _H(strict) if conjugate else np.swapaxes(strict, -1, -2)
    diagonal = _diagonal(a)
    return strict + mirrored + _diag(np.real(diagonal) if conjugate else diagonal)


def _hermitian_read_adjoint(g, lower: bool, conjugate: bool = True):
    """The adjoint of :func:`_hermitian_read`: the cotangent of ``a`` from the cotangent ``g`` of the
    matrix read. A strict entry stands for itself and its mirror, so it collects ``g + gᴴ`` there; the
    triangle not read gets nothing. Only the Hermitian part of ``g`` matters."""
    if _is_zero(g):
        return g
    both = g + (_H(g) if conjugate else np.swapaxes(g, -1, -2))
    strict = np.tril(both, -1) if lower else np.triu(both, 1)
    diagonal = _diagonal(g)
    return strict + _diag(np.real(diagonal) if conjugate else diagonal)


def _batch_scalar(s):
    """A stack of scalars ``(...)`` shaped ``(..., 1, 1)`` to scale a stack of matrices."""
    return np.reshape(s, (*np.shape(s), 1, 1))


def _inverse_gaps(w):
    """``F[..., i, j] = 1 / (w_j - w_i)`` off the diagonal, 0 on it and where ``w_i == w_j`` exactly."""
    gaps = np.expand_dims(w, -2) - np.expand_dims(w, -1)
    tied = gaps == 0
    return np.where(tied, 0, 1 / np.where(tied, 1, gaps))


def _cotangent_parts(dy, n: int) -> list:
    """The cotangents of the ``n`` parts of a tuple output (``Tangent``, tuple or list); missing are zero."""
    return [unthunk(dy[i]) for i in range(n)]


def _tuple_tangent(y, *parts):
    """The tangent of the tuple output ``y`` from one tangent per part (NamedTuples by field name)."""
    if all(map(_is_zero, parts)):
        return ZeroTangent()
    fields = getattr(type(y), "_fields", None)
    if fields is not None:
        return Tangent(type(y), **dict(zip(fields, parts)))
    return Tangent(type(y), *parts)


def _sum_tangents(terms):
    """Sum of tangent terms, skipping zeros (``ZeroTangent()`` when all are zero)."""
    total = ZeroTangent()
    for term in terms:
        if not _is_zero(term):
            total = term if _is_zero(total) else total + term
    return total


def _sign(x):
    """``x / |x|`` (0 at 0): the derivative of ``|x|`` in the complex convention."""
    a = np.abs(x)
    return np.where(a == 0, 0, x / np.where(a == 0, 1, a))


# ----------------------------------------------------------------------------------------------------
# Contractions: einsum and the products that are one
# ----------------------------------------------------------------------------------------------------

# In ASCII order, which is the order numpy's implicit output and integer sublists follow.
_LETTERS = string.ascii_uppercase + string.ascii_lowercase


class _Contraction:
    """An einsum with every index explicit: ``inputs[k]`` are operand ``k``'s indices, ``output`` the result's.

    ``spare`` are letters used nowhere, for the extra indices the cotangents need (a string, not
    a list: nested differentiation runs the pullbacks as code, and text carries no tangent).
    """

    def __init__(self, inputs: list[str], output: str, operands: list, spare: str):
        self.inputs, self.output, self.operands, self.spare = inputs, output, operands, spare
        self.sizes: dict[str, int] = {}
        for indices, x in zip(inputs, operands):
            if len(indices) != np.ndim(x):
                raise ValueError(
                    f"einsum subscripts {indices!r} do not match an operand of shape {np.shape(x)}"
                )
            for c, n in zip(indices, np.shape(x)):
                # broadcasting: a size of 1 gives way to the other (0 included, so not max)
                self.sizes[c] = n if self.sizes.get(c, 1) == 1 else self.sizes[c]

    @property
    def output_shape(self) -> tuple[int, ...]:
        return tuple(self.sizes[c] for c in self.output)

    def tangent(self, dxs):
        """Product rule: the sum over operands of the einsum with that operand replaced by its tangent."""
        spec = ",".join(self.inputs) + "->" + self.output
        return _sum_tangents(
            np.einsum(spec, *self.operands[:k], dx, *self.operands[k + 1 :], optimize=True)
            for k, dx in enumerate(dxs)
            if not _is_zero(dx)
        )

    def cotangent(self, k: int, dy):
        """Cotangent of operand ``k``: an einsum of ``dy`` with the other operands, conjugated."""
        spare = iter(self.spare)
        shape = np.shape(self.operands[k])
        terms = [self.output] + [s for j, s in enumerate(self.inputs) if j != k]
        arrays = [dy] + [np.conj(x) for j, x in enumerate(self.operands) if j != k]
        # An index along which operand k was broadcast (size 1) is summed for it, like a private index.
        broadcast: dict[str, str] = {}
        target = [
            broadcast.setdefault(c, next(spare)) if n == 1 < self.sizes[c] else c
            for c, n in zip(self.inputs[k], shape)
        ]
        # A repeated index (trace, diagonal) puts the cotangent on the diagonal: each repeat gets a
        # fresh index tied to the first one by an identity matrix.
        seen: set[str] = set()
        for p, c in enumerate(target):
            if c in seen:
                target[p] = next(spare)
                terms.append(c + target[p])
                arrays.append(np.eye(shape[p]))
            seen.add(c)
        # An index of operand k alone was summed in the forward pass: the cotangent is constant along it.
        present = set("".join(terms))
        for p, c in enumerate(target):
            if c not in present:
                terms.append(c)
                arrays.append(np.ones(shape[p]))
        return np.einsum(",".join(terms) + "->" + "".join(target), *arrays, optimize=True)


def _explicit(subscripts: str, operands: list) -> _Contraction:
    """The :class:`_Contraction` of ``np.einsum(subscripts, *operands)``: ellipses become letters and
    an implicit output becomes explicit (ellipsis first, then the indices seen once, in ASCII order)."""
    subscripts = subscripts.replace(" ", "")
    inputs_part, arrow, output = subscripts.partition("->")
    inputs = inputs_part.split(",")
    if len(inputs) != len(operands):
        raise ValueError(
            f"einsum subscripts {subscripts!r} name {len(inputs)} operands, "
            f"{len(operands)} were given"
        )
    spare = "".join(c for c in _LETTERS if c not in subscripts)
    ellipsis_ndims = [np.ndim(x) - len(s) + 3 for s, x in zip(inputs, operands) if "..." in s]
    n_ellipsis = max(ellipsis_ndims, default=0)
    if n_ellipsis > len(spare):
        raise ValueError("einsum: too many dimensions under '...' to name them all")
    ellipsis, spare = spare[:n_ellipsis], spare[n_ellipsis:]
    # Like broadcasting, an operand with fewer dimensions under '...' takes the trailing ones.
    inputs = [
        s.replace("...", ellipsis[n_ellipsis - (np.ndim(x) - len(s) + 3) :]) if "..." in s else s
        for s, x in zip(inputs, operands)
    ]
    if arrow:
        output = output.replace("...", ellipsis)
    else:
        counts = {c: inputs_part.count(c) for c in set(inputs_part) - set(".,")}
        output = ellipsis + "".join(sorted(c for c, n in counts.items() if n == 1))
    return _Contraction(inputs, output, operands, spare)


def _sublist_letters(sublist) -> str:
    return "".join("..." if i is Ellipsis else _LETTERS[i] for i in sublist)


def _einsum_call(args) -> tuple[_Contraction, list[int]]:
    """The contraction of an ``np.einsum(*args)`` call and the positions of its operands in ``args``."""
    if isinstance(args[0], str):
        return _explicit(args[0], list(args[1:])), list(range(1, len(args)))
    # Interleaved form: op0, sublist0, op1, sublist1, ..., [output sublist].
    n = len(args) // 2
    subscripts = ",".join(_sublist_letters(s) for s in args[1 : 2 * n : 2])
    if len(args) % 2:
        subscripts += "->" + _sublist_letters(args[-1])
    return _explicit(subscripts, list(args[0 : 2 * n : 2])), list(range(0, 2 * n, 2))


@rrule.register(np.einsum)
def _(*args, **kwargs):
    if kwargs.get("out") is not None:
        raise TypeError("einsum's rule does not support out=: write the result to a new array")
    y = np.einsum(*args, **kwargs)
    contraction, positions = _einsum_call(args)
    projectors = [ProjectTo(x) for x in contraction.operands]

    def einsum_pullback(dy):
        tangents = [NoTangent()] * (len(args) + 1)
        for k, (position, project) in enumerate(zip(positions, projectors)):
            tangents[position + 1] = project(contraction.cotangent(k, dy))
        return tuple(tangents)

    return y, einsum_pullback


@frule.register(np.einsum)
def _(tangents, *args, **kwargs):
    y = np.einsum(*args, **kwargs)
    contraction, positions = _einsum_call(args)
    dy = contraction.tangent([tangents[position + 1] for position in positions])
    return y, ProjectTo(y)(dy)


def _register_contraction(f, contraction_of, conjugate_first: bool = False) -> None:
    """Register the rules of a bilinear product ``f(a, b, *rest, **kwargs)`` that is a contraction.

    ``contraction_of(a, b, *rest, **kwargs)`` returns ``(subscripts, shape_a, shape_b)``: ``f(a, b)``
    is ``np.einsum(subscripts, a.reshape(shape_a), b.reshape(shape_b))`` reshaped to ``f``'s output
    (``conj(a)`` for ``conjugate_first``, as in ``vdot``). ``rest`` are non-differentiable positional
    arguments.
    """

    def prepare(a, b, rest, kwargs):
        subscripts, shape_a, shape_b = contraction_of(a, b, *rest, **kwargs)
        a = np.reshape(a, shape_a)
        return _explicit(subscripts, [np.conj(a) if conjugate_first else a, np.reshape(b, shape_b)])

    def contraction_rrule(a, b, *rest, **kwargs):
        y = f(a, b, *rest, **kwargs)
        contraction = prepare(a, b, rest, kwargs)
        project_a, project_b = ProjectTo(a), ProjectTo(b)

        def contraction_pullback(dy):
            dy = np.reshape(dy, contraction.output_shape)
            da = contraction.cotangent(0, dy)
            da = np.conj(da) if conjugate_first else da
            db = contraction.cotangent(1, dy)
            return (
                NoTangent(),
                project_a(np.reshape(da, np.shape(a))),
                project_b(np.reshape(db, np.shape(b))),
                *no_tangents(rest),
            )

        return y, contraction_pullback

    def contraction_frule(tangents, a, b, *rest, **kwargs):
        y = f(a, b, *rest, **kwargs)
        contraction = prepare(a, b, rest, kwargs)
        _, da, db = tangents[:3]
        da = (
            da
            if _is_zero(da)
            else np.reshape(
                np.conj(da) if conjugate_first else da, np.shape(contraction.operands[0])
            )
        )
        db = db if _is_zero(db) else np.reshape(db, np.shape(contraction.operands[1]))
        dy = contraction.tangent([da, db])
        return y, ProjectTo(y)(dy if _is_zero(dy) else np.reshape(dy, np.shape(y)))

    rrule.add(f, (), contraction_rrule)
    frule.add(f, (), contraction_frule)


def _letters(n: int, start: int = 0) -> str:
    return _LETTERS[start : start + n]


def _tensordot_contraction(a, b, axes=2):
    na, nb = np.ndim(a), np.ndim(b)
    if isinstance(axes, numbers.Integral):
        axes_a, axes_b = list(range(na - axes, na)), list(range(axes))
    else:
        axes_a, axes_b = (
            [axis] if isinstance(axis, numbers.Integral) else list(axis) for axis in axes
        )
    axes_a, axes_b = [i % na for i in axes_a], [i % nb for i in axes_b]
    sa, sb = list(_letters(na)), list(_letters(nb, na))
    for i, j in zip(axes_a, axes_b):
        sb[j] = sa[i]
    output = [c for i, c in enumerate(sa) if i not in axes_a] + [
        c for j, c in enumerate(sb) if j not in axes_b
    ]
    return f"{''.join(sa)},{''.join(sb)}->{''.join(output)}", np.shape(a), np.shape(b)


def _dot_contraction(a, b):
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return _tensordot_contraction(a, b, 0)
    return _tensordot_contraction(a, b, ([-1], [-2 if np.ndim(b) > 1 else -1]))


def _inner_contraction(a, b):
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return _tensordot_contraction(a, b, 0)
    return _tensordot_contraction(a, b, ([-1], [-1]))


def _outer_contraction(a, b):
    return "i,j->ij", (size_of(a),), (size_of(b),)


def _vdot_contraction(a, b):
    return "i,i->", (size_of(a),), (size_of(b),)


def _kron_contraction(a, b):
    # kron(a, b) reshaped to (a0, b0, a1, b1, ...) is the outer product with interleaved axes.
    n = max(np.ndim(a), np.ndim(b))
    shape_a = (1,) * (n - np.ndim(a)) + np.shape(a)
    shape_b = (1,) * (n - np.ndim(b)) + np.shape(b)
    sa, sb = _letters(n), _letters(n, n)
    return f"{sa},{sb}->{''.join(i + j for i, j in zip(sa, sb))}", shape_a, shape_b


def _vecdot_contraction(a, b, axis=-1):
    na, nb = np.ndim(a), np.ndim(b)
    batch = _letters(max(na, nb) - 1)
    sa = list(batch[len(batch) - (na - 1) :])
    sb = list(batch[len(batch) - (nb - 1) :])
    sa.insert(axis % na, "z")
    sb.insert(axis % nb, "z")
    return f"{''.join(sa)},{''.join(sb)}->{batch}", np.shape(a), np.shape(b)


_register_contraction(np.dot, _dot_contraction)
_register_contraction(np.inner, _inner_contraction)
_register_contraction(np.outer, _outer_contraction)
_register_contraction(np.linalg.outer, _outer_contraction)
_register_contraction(np.tensordot, _tensordot_contraction)
_register_contraction(np.linalg.tensordot, _tensordot_contraction)
_register_contraction(np.kron, _kron_contraction)
_register_contraction(np.vdot, _vdot_contraction, conjugate_first=True)
_register_contraction(np.vecdot, _vecdot_contraction, conjugate_first=True)
_register_contraction(np.linalg.vecdot, _vecdot_contraction, conjugate_first=True)


# ----------------------------------------------------------------------------------------------------
# matmul, multi_dot, cross, matrix_transpose
# ----------------------------------------------------------------------------------------------------


def _as_matrices(a, b):
    """matmul's 1-d promotion: a vector ``a`` is a row ``(1, n)``, a vector ``b`` a column ``(n, 1)``."""
    return (
        np.expand_dims(a, 0) if np.ndim(a) == 1 else a,
        np.expand_dims(b, -1) if np.ndim(b) == 1 else b,
    )


def _matmul_rrule(a, b):
    y = np.matmul(a, b)
    project_a, project_b = ProjectTo(a), ProjectTo(b)
    if type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 and b.ndim in (1, 2):
        # the common layer ``x @ W`` (or ``A @ v``), without the batch machinery
        vector = b.ndim == 1

        def matrix_pullback(dy):
            # Thunks: a caller that needs one cotangent (the weights', not the data's) pays for one.
            da = thunk(lambda: project_a(dy[:, None] * np.conj(b) if vector else dy @ _H(b)))
            db = thunk(lambda: project_b(_H(a) @ dy))
            return NoTangent(), da, db

        return y, matrix_pullback
    am, bm = _as_matrices(a, b)

    def matmul_pullback(dy):
        batch = np.broadcast_shapes(np.shape(am)[:-2], np.shape(bm)[:-2])
        dy = np.reshape(dy, (*batch, np.shape(am)[-2], np.shape(bm)[-1]))
        da = thunk(lambda: np.reshape(unbroadcast(am, dy @ _H(bm)), np.shape(a)))
        db = thunk(lambda: np.reshape(unbroadcast(bm, _H(am) @ dy), np.shape(b)))
        return NoTangent(), project_a(da), project_b(db)

    return y, matmul_pullback


def _matmul_frule(tangents, a, b):
    _, da, db = tangents
    y = np.matmul(a, b)
    dy = _sum_tangents(
        [da if _is_zero(da) else np.matmul(da, b), db if _is_zero(db) else np.matmul(a, db)]
    )
    return y, ProjectTo(y)(dy)


for _matmul in (np.matmul, np.linalg.matmul):
    rrule.add(_matmul, (), _matmul_rrule)
    frule.add(_matmul, (), _matmul_frule)
# `@` is typed: on lists and other types it means something else (or nothing).
rrule.add(operator.matmul, (ARRAY_TYPES, ARRAY_TYPES), _matmul_rrule)
frule.add(operator.matmul, (ARRAY_TYPES, ARRAY_TYPES), _matmul_frule)


def _chain_matrices(arrays):
    """multi_dot's operands as matrices: a first vector is a row, a last vector a column."""
    first, last = _as_matrices(arrays[0], arrays[-1])
    return [first, *arrays[1:-1], last]


def _products(matrices):
    """``(prefix, suffix)``: ``prefix[i]`` is the product before matrix i, ``suffix[i]`` after it."""
    n = len(matrices)
    prefix, suffix = [None] * n, [None] * n
    for i in range(1, n):
        m = matrices[i - 1]
        prefix[i] = m if prefix[i - 1] is None else prefix[i - 1] @ m
        m = matrices[n - i]
        suffix[n - 1 - i] = m if suffix[n - i] is None else m @ suffix[n - i]
    return prefix, suffix


def _sandwich(left, middle, right):
    """``left @ middle @ right`` where ``None`` stands for the identity."""
    out = middle if left is None else left @ middle
    return out if right is None else out @ right


@rrule.register(np.linalg.multi_dot)
def _(arrays, **kwargs):
    y = np.linalg.multi_dot(arrays, **kwargs)
    project_arrays = ProjectTo(arrays)
    matrices = _chain_matrices(arrays)

    def multi_dot_pullback(dy):
        dy = np.reshape(dy, (np.shape(matrices[0])[0], np.shape(matrices[-1])[1]))
        prefix, suffix = _products(matrices)
        darrays = [
            np.reshape(
                _sandwich(None if p is None else _H(p), dy, None if s is None else _H(s)),
                np.shape(x),
            )
            for p, s, x in zip(prefix, suffix, arrays)
        ]
        return NoTangent(), project_arrays(darrays)

    return y, multi_dot_pullback


@frule.register(np.linalg.multi_dot)
def _(tangents, arrays, **kwargs):
    y = np.linalg.multi_dot(arrays, **kwargs)
    _, darrays = tangents
    if _is_zero(darrays):
        return y, darrays
    matrices = _chain_matrices(arrays)
    prefix, suffix = _products(matrices)
    dmatrices = [
        d if _is_zero(d) else np.reshape(d, np.shape(m)) for d, m in zip(darrays, matrices)
    ]
    dy = _sum_tangents(
        d if _is_zero(d) else _sandwich(p, d, s) for p, d, s in zip(prefix, dmatrices, suffix)
    )
    return y, ProjectTo(y)(dy if _is_zero(dy) else np.reshape(dy, np.shape(y)))


def _cross_axes(a, b, y, kwargs):
    """``(axis_a, axis_b, axis_c)`` of a ``cross`` call, normalised to non-negative axes."""
    axis = kwargs.get("axis")
    axes = (
        (axis,) * 3
        if axis is not None
        else tuple(kwargs.get(name, -1) for name in ("axisa", "axisb", "axisc"))
    )
    if np.shape(a)[axes[0]] != 3 or np.shape(b)[axes[1]] != 3:
        raise NotImplementedError(
            "the rule of cross supports 3-vectors only (2-vectors are deprecated in numpy)"
        )
    return axes[0] % np.ndim(a), axes[1] % np.ndim(b), axes[2] % np.ndim(y)


def _cross_rrule(f):
    def cross_rrule(a, b, **kwargs):
        y = f(a, b, **kwargs)
        axis_a, axis_b, axis_c = _cross_axes(a, b, y, kwargs)
        project_a, project_b = ProjectTo(a), ProjectTo(b)
        a_last, b_last = np.moveaxis(a, axis_a, -1), np.moveaxis(b, axis_b, -1)

        def cross_pullback(dy):
            # dy·(a×b) = a·(b×dy) = b·(dy×a), with conjugates for the complex convention.
            dy = np.moveaxis(dy, axis_c, -1)
            da = unbroadcast(a_last, np.cross(np.conj(b_last), dy))
            db = unbroadcast(b_last, np.cross(dy, np.conj(a_last)))
            return (
                NoTangent(),
                project_a(np.moveaxis(da, -1, axis_a)),
                project_b(np.moveaxis(db, -1, axis_b)),
            )

        return y, cross_pullback

    return cross_rrule


def _cross_frule(f):
    def cross_frule(tangents, a, b, **kwargs):
        _, da, db = tangents
        y = f(a, b, **kwargs)
        dy = _sum_tangents(
            [da if _is_zero(da) else f(da, b, **kwargs), db if _is_zero(db) else f(a, db, **kwargs)]
        )
        return y, ProjectTo(y)(dy)

    return cross_frule


for _cross in (np.cross, np.linalg.cross):
    rrule.add(_cross, (), _cross_rrule(_cross))
    frule.add(_cross, (), _cross_frule(_cross))


@rrule.register(np.linalg.matrix_transpose)
def _(x):
    project_x = ProjectTo(x)

    def matrix_transpose_pullback(dy):
        return NoTangent(), project_x(np.swapaxes(dy, -1, -2))

    return np.linalg.matrix_transpose(x), matrix_transpose_pullback


@frule.register(np.linalg.matrix_transpose)
def _(tangents, x):
    _, dx = tangents
    return np.linalg.matrix_transpose(x), dx if _is_zero(dx) else np.swapaxes(dx, -1, -2)


# ----------------------------------------------------------------------------------------------------
# Inverses, solves, determinants, powers
# ----------------------------------------------------------------------------------------------------


# ``inv``, ``solve``, ``det`` and ``slogdet`` of one square float64 or complex128 matrix share its LU
# factorization (chainrules.numpy.factorization), forward passes and pullbacks alike: ``lu`` is
# ``None`` where numpy's own routines run (stacks, other dtypes, duck arrays, non-finite entries).


def _inverse(a, lu):
    """``A⁻¹``, from ``a``'s shared factorization ``lu`` where it has one."""
    return np.linalg.inv(a) if lu is None else lu.inverse()


def _solve(a, b, lu, adjoint: bool = False):
    """``A⁻¹ b`` (``A⁻ᴴ b`` for ``adjoint``), from ``a``'s shared factorization ``lu`` where it has one."""
    if lu is None:
        return np.linalg.solve(_H(a) if adjoint else a, b)
    return lu.solve(b, adjoint)


@rrule.register(np.linalg.inv)
def _(a):
    y = _inverse(a, lu_of(a))
    project_a = ProjectTo(a)

    def inv_pullback(dy):
        return NoTangent(), project_a(-_H(y) @ dy @ _H(y))

    return y, inv_pullback


@frule.register(np.linalg.inv)
def _(tangents, a):
    _, da = tangents
    y = _inverse(a, lu_of(a))
    return y, da if _is_zero(da) else -y @ da @ y


def _pinv_tangent(a, y, da):
    """d(A⁺) = -A⁺ dA A⁺ + A⁺A⁺ᴴ dAᴴ (I - AA⁺) + (I - A⁺A) dAᴴ A⁺ᴴA⁺ (full rank)."""
    dah = _H(da)
    return -y @ da @ y + (y @ _H(y)) @ (dah - (dah @ a) @ y) + (dah - y @ (a @ dah)) @ (_H(y) @ y)


def _pinv_cotangent(a, y, dy):
    """The adjoint of :func:`_pinv_tangent`: cotangent of ``A`` from the cotangent ``dy`` of ``A⁺``."""
    dyh = _H(dy)
    return (
        -_H(y) @ dy @ _H(y)
        + (dyh - a @ (y @ dyh)) @ (y @ _H(y))
        + (_H(y) @ y) @ (dyh - (dyh @ y) @ a)
    )


def _pinv_input(a, rest, kwargs):
    """``(matrix, hermitian)``: the matrix ``pinv`` inverts; with ``hermitian=True`` it decomposes the
    Hermitian matrix of ``a``'s lower triangle (through ``svd(hermitian=True)``, that is ``eigh``)."""
    hermitian = rest[1] if len(rest) > 1 else kwargs.get("hermitian", False)
    return (_hermitian_read(a, lower=True) if hermitian else a), hermitian


@rrule.register(np.linalg.pinv)
def _(a, *rest, **kwargs):
    y = np.linalg.pinv(a, *rest, **kwargs)
    matrix, hermitian = _pinv_input(a, rest, kwargs)
    project_a = ProjectTo(a)

    def pinv_pullback(dy):
        da = _pinv_cotangent(matrix, y, dy)
        da = _hermitian_read_adjoint(da, lower=True) if hermitian else da
        return NoTangent(), project_a(da), *no_tangents(rest)

    return y, pinv_pullback


@frule.register(np.linalg.pinv)
def _(tangents, a, *rest, **kwargs):
    da = tangents[1]
    y = np.linalg.pinv(a, *rest, **kwargs)
    if _is_zero(da):
        return y, da
    matrix, hermitian = _pinv_input(a, rest, kwargs)
    da = _hermitian_read(da, lower=True) if hermitian else da
    return y, ProjectTo(y)(_pinv_tangent(matrix, y, da))


def _as_columns(b):
    """``solve``'s right-hand side as a stack of matrices: a 1-d ``b`` is one column."""
    return np.expand_dims(b, -1) if np.ndim(b) == 1 else b


def _solve_lu_of(a, b):
    """``a``'s shared factorization for ``solve(a, b)``, or ``None`` for numpy's own solve: numpy 2
    reads a 1-d ``b`` as one vector and a 2-d one as one matrix (higher ones are stacks)."""
    if type(b) is not np.ndarray or b.dtype not in LU_DTYPES or b.ndim not in (1, 2) or not b.size:
        return None
    lu = lu_of(a)
    # rows that do not match: numpy's solve raises its own error
    return lu if lu is not None and len(b) == lu.n else None


@rrule.register(np.linalg.solve)
def _(a, b):
    lu = _solve_lu_of(a, b)
    x = _solve(a, b, lu)
    project_a, project_b = ProjectTo(a), ProjectTo(b)
    vector = np.ndim(b) == 1
    xm = np.expand_dims(x, -1) if vector else x

    def solve_pullback(dx):
        # x = A⁻¹b: b̄ = A⁻ᴴ x̄, Ā = -b̄ xᴴ.
        dbm = _solve(a, np.expand_dims(dx, -1) if vector else dx, lu, adjoint=True)
        da = -dbm @ _H(xm)
        db = dbm[..., 0] if vector else dbm
        return NoTangent(), project_a(unbroadcast(a, da)), project_b(unbroadcast(b, db))

    return x, solve_pullback


@frule.register(np.linalg.solve)
def _(tangents, a, b):
    _, da, db = tangents
    lu = _solve_lu_of(a, b)
    x = _solve(a, b, lu)
    vector = np.ndim(b) == 1
    # A dx = db - dA x
    rhs = _sum_tangents(
        [
            ZeroTangent() if _is_zero(db) else _as_columns(db),
            da if _is_zero(da) else -(da @ (np.expand_dims(x, -1) if vector else x)),
        ]
    )
    if _is_zero(rhs):
        return x, rhs
    dx = _solve(a, rhs, lu)
    return x, ProjectTo(x)(dx[..., 0] if vector else dx)


def _logdet_tangent(a, da, lu):
    """``tr(A⁻¹ dA)``, the tangent of the (complex) log-determinant."""
    return np.trace(_solve(a, da, lu), axis1=-2, axis2=-1)


_SlogdetResult = type(np.linalg.slogdet(np.eye(1)))  # numpy's NamedTuple, which it does not export


def _slogdet(a, lu):
    return np.linalg.slogdet(a) if lu is None else _SlogdetResult(*lu.slogdet())


def _det(a, lu):
    if lu is None:
        return np.linalg.det(a)
    sign, logabsdet = lu.slogdet()
    return sign * np.exp(logabsdet)  # as numpy computes it (0 for a singular matrix)


@rrule.register(np.linalg.det)
def _(a):
    lu = lu_of(a)
    y = _det(a, lu)
    project_a = ProjectTo(a)

    def det_pullback(dy):
        return NoTangent(), project_a(_batch_scalar(np.conj(y) * dy) * _H(_inverse(a, lu)))

    return y, det_pullback


@frule.register(np.linalg.det)
def _(tangents, a):
    _, da = tangents
    lu = lu_of(a)
    y = _det(a, lu)
    return y, da if _is_zero(da) else ProjectTo(y)(y * _logdet_tangent(a, da, lu))


@rrule.register(np.linalg.slogdet)
def _(a):
    lu = lu_of(a)
    y = _slogdet(a, lu)
    project_a = ProjectTo(a)
    complex_input = np.iscomplexobj(a)

    def slogdet_pullback(dy):
        dsign, dlogabsdet = _cotangent_parts(dy, 2)
        # The cotangent of the holomorphic log det = log|det| + i arg(det), where sign = exp(i arg).
        dlogdet = np.zeros(np.shape(y.logabsdet)) if _is_zero(dlogabsdet) else dlogabsdet
        if complex_input and not _is_zero(dsign):
            dlogdet = dlogdet + 1j * np.imag(dsign * np.conj(y.sign))
        return NoTangent(), project_a(_batch_scalar(dlogdet) * _H(_inverse(a, lu)))

    return y, slogdet_pullback


@frule.register(np.linalg.slogdet)
def _(tangents, a):
    _, da = tangents
    lu = lu_of(a)
    y = _slogdet(a, lu)
    if _is_zero(da):
        return y, ZeroTangent()
    dlogdet = _logdet_tangent(a, da, lu)
    dsign = 1j * y.sign * np.imag(dlogdet) if np.iscomplexobj(a) else ZeroTangent()
    return y, _tuple_tangent(y, ProjectTo(y.sign)(dsign), ProjectTo(y.logabsdet)(np.real(dlogdet)))


def _matrix_power_terms(a, n: int):
    """``[(A^k, A^(n-1-k)) for k < n]`` for ``n > 0``: d(Aⁿ) = Σ_k A^k dA A^(n-1-k)."""
    powers = [None, a]
    for _ in range(2, n):
        powers.append(powers[-1] @ a)
    return [(powers[k], powers[n - 1 - k]) for k in range(n)]


def _matrix_power_tangent(a, n: int, da):
    if n == 0 or _is_zero(da):
        return ZeroTangent()
    if n < 0:
        b = np.linalg.inv(a)
        return _matrix_power_tangent(b, -n, -b @ da @ b)
    return _sum_tangents(_sandwich(left, da, right) for left, right in _matrix_power_terms(a, n))


def _matrix_power_cotangent(a, n: int, dy):
    if n == 0:
        return ZeroTangent()
    if n < 0:
        b = np.linalg.inv(a)
        db = _matrix_power_cotangent(b, -n, dy)
        return -_H(b) @ db @ _H(b)
    return _sum_tangents(
        _sandwich(None if left is None else _H(left), dy, None if right is None else _H(right))
        for left, right in _matrix_power_terms(a, n)
    )


@rrule.register(np.linalg.matrix_power)
def _(a, n):
    y = np.linalg.matrix_power(a, n)
    project_a = ProjectTo(a)

    def matrix_power_pullback(dy):
        return NoTangent(), project_a(_matrix_power_cotangent(a, n, dy)), NoTangent()

    return y, matrix_power_pullback


@frule.register(np.linalg.matrix_power)
def _(tangents, a, n):
    y = np.linalg.matrix_power(a, n)
    return y, ProjectTo(y)(_matrix_power_tangent(a, n, tangents[1]))


@rrule.register(np.linalg.lstsq)
def _(a, b, *rest, **kwargs):
    y = np.linalg.lstsq(a, b, *rest, **kwargs)
    x, residuals, _, _ = y
    project_a, project_b = ProjectTo(a), ProjectTo(b)

    def lstsq_pullback(dy):
        dx, dresiduals, _, dsv = _cotangent_parts(dy, 4)
        # x = A⁺b (full rank): through the pseudo-inverse, then the residuals ‖b - Ax‖² and the
        # singular values of A.
        xm, bm, pinv_a = _as_columns(x), _as_columns(b), np.linalg.pinv(a)
        da, db = ZeroTangent(), ZeroTangent()
        if not _is_zero(dx):
            dxm = _as_columns(dx)
            da = _pinv_cotangent(a, pinv_a, dxm @ _H(bm))
            db = _H(pinv_a) @ dxm
        if not _is_zero(dresiduals) and np.size(residuals):
            weighted = 2 * (bm - a @ xm) * dresiduals
            da, db = da - weighted @ _H(xm), db + weighted
        if not _is_zero(dsv):
            u, _, vh = np.linalg.svd(a, full_matrices=False)
            da = da + (u * dsv) @ vh
        if not _is_zero(db) and np.ndim(b) == 1:
            db = db[:, 0]
        return (NoTangent(), project_a(da), project_b(db), *no_tangents(rest))

    return y, lstsq_pullback


@frule.register(np.linalg.lstsq)
def _(tangents, a, b, *rest, **kwargs):
    _, da, db = tangents[:3]
    y = np.linalg.lstsq(a, b, *rest, **kwargs)
    x, residuals, _, sv = y
    if _is_zero(da) and _is_zero(db):
        return y, ZeroTangent()
    pinv_a = np.linalg.pinv(a)
    dx = _sum_tangents(
        [
            da if _is_zero(da) else _pinv_tangent(a, pinv_a, da) @ b,
            db if _is_zero(db) else pinv_a @ db,
        ]
    )
    # d‖r‖² = 2 Re(rᴴ(db - dA x)): the A dx term vanishes because Aᴴr = 0.
    dr = _sum_tangents([db, da if _is_zero(da) else -(da @ x)])
    dresiduals = ZeroTangent()
    if np.size(residuals):
        r = b - a @ x
        dresiduals = np.reshape(2 * np.sum(np.real(np.conj(r) * dr), axis=0), np.shape(residuals))
    dsv = ZeroTangent()
    if not _is_zero(da):
        u, _, vh = np.linalg.svd(a, full_matrices=False)
        dsv = np.real(_diagonal(_H(u) @ da @ _H(vh)))
    return y, _tuple_tangent(
        y, ProjectTo(x)(dx), ProjectTo(residuals)(dresiduals), NoTangent(), ProjectTo(sv)(dsv)
    )


non_differentiable(np.linalg.matrix_rank)


# ----------------------------------------------------------------------------------------------------
# Decompositions
# ----------------------------------------------------------------------------------------------------


def _lower_half(x):
    """Φ(X): the lower triangle of X with its diagonal halved."""
    return np.tril(x) - _diag(_diagonal(x)) / 2


def _cholesky_tangent(l, da):
    """dL = L Φ(L⁻¹ dA L⁻ᴴ) for A = LLᴴ and a Hermitian dA."""
    l_inv = np.linalg.inv(l)
    return l @ _lower_half(l_inv @ da @ _H(l_inv))


def _cholesky_cotangent(l, dl):
    """A cotangent of A = LLᴴ whose Hermitian part is the right one: L⁻ᴴ Φ(Lᴴ dL) L⁻¹."""
    l_inv = np.linalg.inv(l)
    return _H(l_inv) @ _lower_half(_H(l) @ dl) @ l_inv


@rrule.register(np.linalg.cholesky)
def _(a, **kwargs):
    y = np.linalg.cholesky(a, **kwargs)
    # upper=True factors the upper triangle (A = UᴴU), the default the lower one.
    upper = kwargs.get("upper", False)
    l = _H(y) if upper else y
    project_a = ProjectTo(a)

    def cholesky_pullback(dy):
        da = _cholesky_cotangent(l, _H(dy) if upper else dy)
        return NoTangent(), project_a(_hermitian_read_adjoint(da, lower=not upper))

    return y, cholesky_pullback


@frule.register(np.linalg.cholesky)
def _(tangents, a, **kwargs):
    _, da = tangents
    y = np.linalg.cholesky(a, **kwargs)
    if _is_zero(da):
        return y, da
    upper = kwargs.get("upper", False)
    dl = _cholesky_tangent(_H(y) if upper else y, _hermitian_read(da, lower=not upper))
    return y, ProjectTo(y)(_H(dl) if upper else dl)


def _reads_lower(rest, kwargs) -> bool:
    """Whether ``eigh``/``eigvalsh`` read the lower triangle (``UPLO``, positional or by name)."""
    return (rest[0] if rest else kwargs.get("UPLO", "L")).upper() == "L"


def _eigh_tangent(w, v, da):
    """``(dw, dV)`` for A = V diag(w) Vᴴ and a Hermitian dA: with X = Vᴴ dA V, dw = diag(X),
    dV = V (F ∘ X)."""
    x = _H(v) @ da @ v
    return np.real(_diagonal(x)), v @ (_inverse_gaps(w) * x)


def _eigh_cotangent(w, v, dw, dv):
    """The Hermitian cotangent V (diag(dw) + F ∘ (J - Jᴴ)/2) Vᴴ, J = Vᴴ dV, F = 1/(w_j - w_i)."""
    inner = ZeroTangent() if _is_zero(dw) else _diag(np.real(dw))
    if not _is_zero(dv):
        j = _H(v) @ dv
        inner = _sum_tangents([inner, _inverse_gaps(w) * (j - _H(j)) / 2])
    return inner if _is_zero(inner) else v @ inner @ _H(v)


@rrule.register(np.linalg.eigh)
def _(a, *rest, **kwargs):
    y = np.linalg.eigh(a, *rest, **kwargs)
    lower = _reads_lower(rest, kwargs)
    project_a = ProjectTo(a)

    def eigh_pullback(dy):
        da = _hermitian_read_adjoint(_eigh_cotangent(*y, *_cotangent_parts(dy, 2)), lower)
        return NoTangent(), project_a(da), *no_tangents(rest)

    return y, eigh_pullback


@frule.register(np.linalg.eigh)
def _(tangents, a, *rest, **kwargs):
    da = tangents[1]
    y = np.linalg.eigh(a, *rest, **kwargs)
    if _is_zero(da):
        return y, da
    dw, dv = _eigh_tangent(*y, _hermitian_read(da, _reads_lower(rest, kwargs)))
    return y, _tuple_tangent(y, ProjectTo(y.eigenvalues)(dw), ProjectTo(y.eigenvectors)(dv))


@rrule.register(np.linalg.eigvalsh)
def _(a, *rest, **kwargs):
    w = np.linalg.eigvalsh(a, *rest, **kwargs)
    lower = _reads_lower(rest, kwargs)
    project_a = ProjectTo(a)

    def eigvalsh_pullback(dw):
        _, v = np.linalg.eigh(a, *rest, **kwargs)
        da = _hermitian_read_adjoint(_eigh_cotangent(w, v, dw, ZeroTangent()), lower)
        return NoTangent(), project_a(da), *no_tangents(rest)

    return w, eigvalsh_pullback


@frule.register(np.linalg.eigvalsh)
def _(tangents, a, *rest, **kwargs):
    da = tangents[1]
    w = np.linalg.eigvalsh(a, *rest, **kwargs)
    if _is_zero(da):
        return w, da
    _, v = np.linalg.eigh(a, *rest, **kwargs)
    return w, ProjectTo(w)(_eigh_tangent(w, v, _hermitian_read(da, _reads_lower(rest, kwargs)))[0])


def _eig_tangent(w, v, da):
    """``(dw, dV)`` for A V = V diag(w) with unit-norm columns: X = V⁻¹ dA V, dw = diag(X),
    dV = V (F ∘ X) projected so that Re(v_iᴴ dv_i) = 0."""
    x = np.linalg.solve(v, da @ v)
    dv = v @ (_inverse_gaps(w) * x)
    return _diagonal(x), dv - v * np.real(np.sum(np.conj(v) * dv, axis=-2, keepdims=True))


def _eig_cotangent(w, v, dw, dv):
    """The adjoint of :func:`_eig_tangent`: V⁻ᴴ (diag(dw) + conj(F) ∘ Vᴴ dV') Vᴴ with
    dV' = dV - V Re(diag(Vᴴ dV))."""
    inner = ZeroTangent() if _is_zero(dw) else _diag(dw)
    if not _is_zero(dv):
        dv = dv - v * np.real(np.sum(np.conj(v) * dv, axis=-2, keepdims=True))
        inner = _sum_tangents([inner, np.conj(_inverse_gaps(w)) * (_H(v) @ dv)])
    return inner if _is_zero(inner) else np.linalg.solve(_H(v), inner @ _H(v))


@rrule.register(np.linalg.eig)
def _(a):
    y = np.linalg.eig(a)
    project_a = ProjectTo(a)

    def eig_pullback(dy):
        dw, dv = _cotangent_parts(dy, 2)
        return NoTangent(), project_a(_eig_cotangent(*y, dw, dv))

    return y, eig_pullback


@frule.register(np.linalg.eig)
def _(tangents, a):
    _, da = tangents
    y = np.linalg.eig(a)
    if _is_zero(da):
        return y, da
    dw, dv = _eig_tangent(*y, da)
    return y, _tuple_tangent(y, ProjectTo(y.eigenvalues)(dw), ProjectTo(y.eigenvectors)(dv))


@rrule.register(np.linalg.eigvals)
def _(a):
    w = np.linalg.eigvals(a)
    project_a = ProjectTo(a)

    def eigvals_pullback(dw):
        _, v = np.linalg.eig(a)
        return NoTangent(), project_a(_eig_cotangent(w, v, dw, ZeroTangent()))

    return w, eigvals_pullback


@frule.register(np.linalg.eigvals)
def _(tangents, a):
    _, da = tangents
    w = np.linalg.eigvals(a)
    if _is_zero(da):
        return w, da
    _, v = np.linalg.eig(a)
    return w, ProjectTo(w)(_eig_tangent(w, v, da)[0])


def _svd_tangent(u, s, vh, da):
    """``(dU, ds, dVh)`` of the thin SVD A = U diag(s) Vh, with P = Uᴴ dA V and F = 1/(s_j² - s_i²):
    ds = Re diag(P), dU = U (F∘(PS + SPᴴ) + i Im diag(P)/S) + (I - UUᴴ) dA V S⁻¹,
    dV = V F∘(SP + PᴴS) + (I - VVᴴ) dAᴴ U S⁻¹."""
    v = _H(vh)
    p = _H(u) @ da @ v
    f = _inverse_gaps(s * s)
    rows, cols = np.expand_dims(s, -1), np.expand_dims(s, -2)
    omega_u = f * (p * cols + rows * _H(p))
    if np.iscomplexobj(p):
        omega_u = omega_u + _diag(1j * np.imag(_diagonal(p)) / s)
    omega_v = f * (rows * p + _H(p) * cols)
    du = u @ omega_u + (da @ v - u @ p) / cols
    dv = v @ omega_v + (_H(da) @ u - v @ _H(p)) / cols
    return du, np.real(_diagonal(p)), _H(dv)


def _svd_cotangent(u, s, vh, du, ds, dvh):
    """The adjoint of :func:`_svd_tangent`."""
    rows, cols = np.expand_dims(s, -1), np.expand_dims(s, -2)
    f = _inverse_gaps(s * s)
    terms = [ZeroTangent() if _is_zero(ds) else u @ _diag(np.real(ds)) @ vh]
    if not _is_zero(du):
        j = _H(u) @ du
        inner = f * (j - _H(j)) * cols
        if np.iscomplexobj(j):
            inner = inner + _diag(1j * np.imag(_diagonal(j)) / s)
        terms += [u @ inner @ vh, ((du - u @ j) / cols) @ vh]
    if not _is_zero(dvh):
        v = _H(vh)
        k = vh @ _H(dvh)
        terms += [u @ (rows * (f * (k - _H(k)))) @ vh, (u / cols) @ (dvh - (dvh @ v) @ vh)]
    return _sum_tangents(terms)


def _complement_tangent(q1, q2, dq1):
    """dQ₂ = -Q₁ dQ₁ᴴ Q₂: how the orthonormal complement ``Q₂`` of ``Q₁`` follows ``dQ₁``.

    ``Q₂`` is only determined up to ``Q₂ W`` (``W`` unitary), so its tangent is chosen with no motion
    inside its own span (Q₂ᴴ dQ₂ = 0); ``[Q₁ Q₂]`` then stays unitary to first order. The result is
    the derivative of every loss that depends on ``Q₂`` through ``Q₂ Q₂ᴴ`` (or otherwise not on ``W``).
    """
    return -q1 @ (_H(dq1) @ q2)


def _complement_cotangent(q1, q2, dq2):
    """The adjoint of :func:`_complement_tangent`: what the cotangent of ``Q₂`` adds to ``Q₁``'s."""
    return -q2 @ (_H(dq2) @ q1)


def _thin_svd_cotangents(u, vh, du, dvh):
    """``(U₁, Vh₁, dU₁, dVh₁)``: the thin factors of a full SVD and their cotangents, with the
    cotangents of the extra columns of ``U`` (rows of ``Vh``) folded in by :func:`_complement_cotangent`."""
    k = min(np.shape(u)[-1], np.shape(vh)[-2])
    u1, vh1 = u[..., :k], vh[..., :k, :]
    if not _is_zero(du):
        du = du[..., :k] + _complement_cotangent(u1, u[..., k:], du[..., k:])
    if not _is_zero(dvh):
        dv2 = _H(dvh[..., k:, :])
        dvh = dvh[..., :k, :] + _H(_complement_cotangent(_H(vh1), _H(vh[..., k:, :]), dv2))
    return u1, vh1, du, dvh


def _full_svd_tangents(u, vh, du1, dvh1):
    """The tangents of the full ``U`` and ``Vh`` from those of their thin parts."""
    k = np.shape(du1)[-1]
    du2 = _complement_tangent(u[..., :k], u[..., k:], du1)
    dv2 = _complement_tangent(_H(vh[..., :k, :]), _H(vh[..., k:, :]), _H(dvh1))
    return np.concatenate([du1, du2], axis=-1), np.concatenate([dvh1, _H(dv2)], axis=-2)


def _svd_options(a, rest, kwargs) -> tuple[dict, bool, bool, bool]:
    """``(kwargs, compute_uv, hermitian, full)`` of an ``svd`` call; ``full``: with extra columns."""
    kwargs = {**dict(zip(("full_matrices", "compute_uv", "hermitian"), rest)), **kwargs}
    compute_uv, hermitian = kwargs.get("compute_uv", True), kwargs.get("hermitian", False)
    full = compute_uv and kwargs.get("full_matrices", True) and np.shape(a)[-1] != np.shape(a)[-2]
    return kwargs, compute_uv, hermitian, full


def _svd_of(a, hermitian):
    u, s, vh = np.linalg.svd(a, full_matrices=False, hermitian=hermitian)
    return u, s, vh


@rrule.register(np.linalg.svd)
def _(a, *rest, **kwargs):
    kwargs, compute_uv, hermitian, full = _svd_options(a, rest, kwargs)
    y = np.linalg.svd(a, **kwargs)
    project_a = ProjectTo(a)

    def svd_pullback(dy):
        if compute_uv:
            du, ds, dvh = _cotangent_parts(dy, 3)
            u, s, vh = y
            if full:
                u, vh, du, dvh = _thin_svd_cotangents(u, vh, du, dvh)
            da = _svd_cotangent(u, s, vh, du, ds, dvh)
        else:
            u, _, vh = _svd_of(a, hermitian)
            da = _svd_cotangent(u, y, vh, ZeroTangent(), dy, ZeroTangent())
        # hermitian=True takes the eigendecomposition of the lower triangle (eigh's default UPLO).
        da = _hermitian_read_adjoint(da, lower=True) if hermitian else da
        return NoTangent(), project_a(da), *no_tangents(rest)

    return y, svd_pullback


@frule.register(np.linalg.svd)
def _(tangents, a, *rest, **kwargs):
    kwargs, compute_uv, hermitian, full = _svd_options(a, rest, kwargs)
    da = tangents[1]
    y = np.linalg.svd(a, **kwargs)
    if _is_zero(da):
        return y, da
    if hermitian:
        da = _hermitian_read(da, lower=True)
    if not compute_uv:
        u, _, vh = _svd_of(a, hermitian)
        return y, ProjectTo(y)(_svd_tangent(u, y, vh, da)[1])
    u, s, vh = y
    if full:
        k = np.shape(s)[-1]
        du, ds, dvh = _svd_tangent(u[..., :k], s, vh[..., :k, :], da)
        du, dvh = _full_svd_tangents(u, vh, du, dvh)
    else:
        du, ds, dvh = _svd_tangent(u, s, vh, da)
    return y, _tuple_tangent(y, *(ProjectTo(part)(d) for part, d in zip(y, (du, ds, dvh))))


@rrule.register(np.linalg.svdvals)
def _(a):
    s = np.linalg.svdvals(a)
    project_a = ProjectTo(a)

    def svdvals_pullback(ds):
        u, _, vh = _svd_of(a, False)
        return NoTangent(), project_a(_svd_cotangent(u, s, vh, ZeroTangent(), ds, ZeroTangent()))

    return s, svdvals_pullback


@frule.register(np.linalg.svdvals)
def _(tangents, a):
    _, da = tangents
    s = np.linalg.svdvals(a)
    if _is_zero(da):
        return s, da
    u, _, vh = _svd_of(a, False)
    return s, ProjectTo(s)(_svd_tangent(u, s, vh, da)[1])


def _right_solve(x, r, adjoint: bool = False):
    """``X R⁻¹`` (``X R⁻ᴴ`` for ``adjoint``) for a square ``R``."""
    return _H(np.linalg.solve(r if adjoint else _H(r), _H(x)))


def _qr_tangent(q, r, da):
    """``(dQ, dR)`` of A = QR, M ≥ N, real diag(R): C = Qᴴ dA R⁻¹, Ω = Qᴴ dQ is the anti-Hermitian
    matrix with the strictly lower triangle of C and diagonal i Im diag(C); dR = (C - Ω) R,
    dQ = dA R⁻¹ - Q (C - Ω)."""
    da_r = _right_solve(da, r)
    c = _H(q) @ da_r
    low = np.tril(c, -1)
    omega = (
        low - _H(low) + _diag(1j * np.imag(_diagonal(c))) if np.iscomplexobj(c) else low - _H(low)
    )
    return da_r - q @ (c - omega), (c - omega) @ r


def _qr_cotangent(q, r, dq, dr):
    """The adjoint of :func:`_qr_tangent`: (dQ + Q copyltu(M)) R⁻ᴴ, M = dR Rᴴ - Qᴴ dQ, where
    copyltu(M) is the Hermitian matrix with M's upper triangle (real part on the diagonal)."""
    m = _sum_tangents([dr if _is_zero(dr) else dr @ _H(r), dq if _is_zero(dq) else -_H(q) @ dq])
    if _is_zero(m):
        return m
    upper = np.triu(m, 1)
    hermitian = upper + _H(upper) + _diag(np.real(_diagonal(m)))
    return _right_solve(_sum_tangents([dq, q @ hermitian]), r, adjoint=True)


def _qr_parts_tangent(a, q, r, da):
    """``(dQ, dR)`` of the reduced QR for any shape: a wide A = [X | Y] is X = QR_X, R_Y = Qᴴ Y."""
    m = np.shape(a)[-2]
    if np.shape(a)[-1] <= m:
        return _qr_tangent(q, r, da)
    dq, dr_x = _qr_tangent(q, r[..., :m], da[..., :m])
    dr_y = _H(dq) @ a[..., m:] + _H(q) @ da[..., m:]
    return dq, np.concatenate([dr_x, dr_y], axis=-1)


def _qr_parts_cotangent(a, q, r, dq, dr):
    m = np.shape(a)[-2]
    if np.shape(a)[-1] <= m:
        return _qr_cotangent(q, r, dq, dr)
    if _is_zero(dr):
        return np.concatenate(
            [_qr_cotangent(q, r[..., :m], dq, dr), np.zeros_like(a[..., m:])], axis=-1
        )
    dr_x, dr_y = dr[..., :m], dr[..., m:]
    dq = _sum_tangents([dq, a[..., m:] @ _H(dr_y)])
    return np.concatenate([_qr_cotangent(q, r[..., :m], dq, dr_x), q @ dr_y], axis=-1)


def _qr_mode(rest, kwargs) -> str:
    mode = rest[0] if rest else kwargs.get("mode", "reduced")
    if mode == "raw":
        raise NotImplementedError(
            "qr's rule does not support mode='raw' (Householder reflectors, LAPACK's internal "
            "format): use mode='reduced' or 'complete'"
        )
    return mode


def _qr_factors(a, y, mode):
    """``(Q₁, Q₂, R₁)``: the reduced factors and the extra columns of a complete ``Q`` (often none)."""
    q, r = np.linalg.qr(a) if mode == "r" else y
    k = min(np.shape(a)[-2:])
    return q[..., :k], q[..., k:], r[..., :k, :]


@rrule.register(np.linalg.qr)
def _(a, *rest, **kwargs):
    mode = _qr_mode(rest, kwargs)
    y = np.linalg.qr(a, *rest, **kwargs)
    q, q2, r = _qr_factors(a, y, mode)
    k = np.shape(q)[-1]
    project_a = ProjectTo(a)

    def qr_pullback(dy):
        dq, dr = (ZeroTangent(), dy) if mode == "r" else _cotangent_parts(dy, 2)
        if not _is_zero(dq) and np.shape(q2)[-1]:
            dq = dq[..., :k] + _complement_cotangent(q, q2, dq[..., k:])
        # The extra rows of a complete R are zero whatever A is: their cotangent goes nowhere.
        dr = dr if _is_zero(dr) else dr[..., :k, :]
        return NoTangent(), project_a(_qr_parts_cotangent(a, q, r, dq, dr)), *no_tangents(rest)

    return y, qr_pullback


@frule.register(np.linalg.qr)
def _(tangents, a, *rest, **kwargs):
    mode = _qr_mode(rest, kwargs)
    da = tangents[1]
    y = np.linalg.qr(a, *rest, **kwargs)
    if _is_zero(da):
        return y, da
    q, q2, r = _qr_factors(a, y, mode)
    dq, dr = _qr_parts_tangent(a, q, r, da)
    if mode == "r":
        return y, ProjectTo(y)(dr)
    if np.shape(q2)[-1]:
        dq = np.concatenate([dq, _complement_tangent(q, q2, dq)], axis=-1)
        dr = np.concatenate([dr, np.zeros_like(y[1][..., np.shape(dr)[-2] :, :])], axis=-2)
    return y, _tuple_tangent(y, ProjectTo(y[0])(dq), ProjectTo(y[1])(dr))


# ----------------------------------------------------------------------------------------------------
# Norms
# ----------------------------------------------------------------------------------------------------


def _norm_axes(x, ord, axis) -> tuple[tuple[int, ...], bool]:
    """``(axes, is_matrix_norm)`` of an ``np.linalg.norm`` call (axes in numpy's row, column order)."""
    ndim = np.ndim(x)
    if axis is None:
        matrix = ord is not None and ndim == 2
        return tuple(range(ndim)), matrix
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    return tuple(i % ndim for i in axes), len(axes) == 2


def _extremum_mask(values, extremum, axis):
    """Where ``values`` attains ``extremum`` along ``axis``, as weights that split ties equally."""
    hits = values == extremum
    return hits / np.sum(hits, axis=axis, keepdims=True)


def _norm_gradient(x, y_kept, ord, axes, matrix):
    """The gradient ``D`` of the norm: ``dL/dx = dy * D`` (``dy`` kept-dims), ``dy = Re Σ conj(D) dx``.

    ``None`` for ``ord=0`` (zero derivative).
    """
    if matrix and ord in ("nuc", 2, -2):
        rows, cols = axes
        u, _, vh = np.linalg.svd(np.moveaxis(x, (rows, cols), (-2, -1)), full_matrices=False)
        k = {2: slice(0, 1), -2: slice(-1, None), "nuc": slice(None)}[ord]
        return np.moveaxis(u[..., :, k] @ vh[..., k, :], (-2, -1), (rows, cols))
    if matrix and ord in (1, -1, np.inf, -np.inf):
        summed, extremum = (axes[0], axes[1]) if ord in (1, -1) else (axes[1], axes[0])
        line_sums = np.sum(np.abs(x), axis=summed, keepdims=True)
        return _sign(x) * _extremum_mask(line_sums, y_kept, extremum)
    if ord in (None, 2, "fro"):
        return np.where(y_kept == 0, 0, x / np.where(y_kept == 0, 1, y_kept))
    if ord == 0:
        return None
    if ord in (np.inf, -np.inf):
        return _sign(x) * _extremum_mask(np.abs(x), y_kept, axes)
    if ord == 1:
        return _sign(x)
    return _sign(x) * np.where(
        y_kept == 0, 0, (np.abs(x) / np.where(y_kept == 0, 1, y_kept)) ** (ord - 1)
    )


def _norm_rules(f, signature):
    """Register the rules of a norm; ``signature(x, *args, **kwargs)`` gives ``(ord, axes, matrix,
    keepdims)`` of a call."""

    def norm_rrule(x, *rest, **kwargs):
        y = f(x, *rest, **kwargs)
        ord, axes, matrix, keepdims = signature(x, *rest, **kwargs)
        y_kept = y if keepdims else np.expand_dims(y, axes)
        gradient = _norm_gradient(x, y_kept, ord, axes, matrix)
        project_x = ProjectTo(x)

        def norm_pullback(dy):
            if gradient is None:
                return NoTangent(), ZeroTangent(), *no_tangents(rest)
            dy_kept = dy if keepdims else np.expand_dims(dy, axes)
            return NoTangent(), project_x(dy_kept * gradient), *no_tangents(rest)

        return y, norm_pullback

    def norm_frule(tangents, x, *rest, **kwargs):
        dx = tangents[1]
        y = f(x, *rest, **kwargs)
        if _is_zero(dx):
            return y, dx
        ord, axes, matrix, keepdims = signature(x, *rest, **kwargs)
        gradient = _norm_gradient(x, y if keepdims else np.expand_dims(y, axes), ord, axes, matrix)
        if gradient is None:
            return y, ZeroTangent()
        dy = np.sum(np.real(np.conj(gradient) * dx), axis=axes, keepdims=keepdims)
        return y, ProjectTo(y)(dy)

    rrule.add(f, (), norm_rrule)
    frule.add(f, (), norm_frule)


def _norm_signature(x, ord=None, axis=None, keepdims=False):
    axes, matrix = _norm_axes(x, ord, axis)
    return ord, axes, matrix, keepdims


def _vector_norm_signature(x, *, axis=None, keepdims=False, ord=2):
    axes = tuple(range(np.ndim(x))) if axis is None else _norm_axes(x, ord, axis)[0]
    return ord, axes, False, keepdims


def _matrix_norm_signature(x, *, keepdims=False, ord="fro"):
    return ord, (np.ndim(x) - 2, np.ndim(x) - 1), True, keepdims


_norm_rules(np.linalg.norm, _norm_signature)
_norm_rules(np.linalg.vector_norm, _vector_norm_signature)
_norm_rules(np.linalg.matrix_norm, _matrix_norm_signature)
