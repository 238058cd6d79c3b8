"""Four doubles in one SIMD register, for kernels whose loops LLVM does not vectorise by itself.

Numba has no vector type; this module gives it one, `f64x4` (LLVM's <4 x double>: a YMM register
with AVX2, two XMM registers without), and the few operations the kernels need, each one LLVM
instruction or a short fixed sequence, inlined where it is used:

- `quad(a, i0, i1, i2, i3)`: four rows a[i0:i0+4], …, a[i3:i3+4] loaded and transposed, so that
  vector t holds a[i0+t], a[i1+t], a[i2+t], a[i3+t]: four independent series side by side, one
  lane each (no bounds check: the caller keeps every row inside the array);
- `splat`, `make4`, `lane`, `load4`, `store4` (no bounds checks either); `+`, `−`, `×`, `/` of two
  vectors, `sqrt4`;
- `fma(a, b, c)` = a·b + c, `fnma(a, b, c)` = c − a·b, `fms(a, b, c)` = a·b − c, each rounded once
  (`fma1`: the same for scalars, so that scalar code rounds as a lane does);
- `vmax`, `greater` (a 4-bit mask of a > b), `signs` (a 4-bit mask of the sign bits), `vor` (bitwise
  or), `lowest_bit` (the index of the lowest set bit of an integer), and `fetch_add` (an atomic
  add to an int64 array element: the counter of a work queue shared by a parallel loop's threads).

Arrays must not be passed to an inlined helper inside a hot loop (Numba then counts references
around each call); these intrinsics take them without that cost. `Vector` and the typed names at
the end are what the type checker sees.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, Protocol, cast

import numpy as np
import numpy.typing as npt
from llvmlite import ir  # type: ignore[import-untyped]
from numba.core import cgutils, types
from numba.core.extending import intrinsic, models, overload, register_model

_VEC = ir.VectorType(ir.DoubleType(), 4)
_HALF = ir.VectorType(ir.DoubleType(), 2)
_I64X4 = ir.VectorType(ir.IntType(64), 4)


class F64x4(types.Type):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(name="f64x4")


f64x4 = F64x4()
_QUAD = types.UniTuple(f64x4, 4)


@register_model(F64x4)
class _F64x4Model(models.PrimitiveModel):  # type: ignore[misc]
    def __init__(self, dmm: Any, fe_type: Any) -> None:
        super().__init__(dmm, fe_type, _VEC)


def _shuffle(*lanes: int) -> ir.Constant:
    return ir.Constant(ir.VectorType(ir.IntType(32), len(lanes)), list(lanes))


def _element(context: Any, builder: Any, aryty: Any, ary: Any, i: Any) -> Any:
    """Pointer to ary[i] (no bounds check)."""
    data = context.make_array(aryty)(context, builder, ary).data
    return builder.gep(data, [i])


def _call_fma(builder: Any, a: Any, b: Any, c: Any) -> Any:
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_VEC, [_VEC] * 3), "llvm.fma.v4f64")
    return builder.call(fn, [a, b, c])


def _mask(builder: Any, bits: Any) -> Any:
    """A <4 x i1> as an int64 of 4 bits."""
    return builder.zext(builder.bitcast(bits, ir.IntType(4)), ir.IntType(64))


@intrinsic
def _load4(typingctx: Any, ary: Any, i: Any) -> Any:
    """ary[i:i + 4]."""
    sig = f64x4(ary, types.intp)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        ptr = _element(context, builder, sig.args[0], args[0], args[1])
        return builder.load(builder.bitcast(ptr, _VEC.as_pointer()), align=8)

    return sig, codegen


@intrinsic
def _store4(typingctx: Any, ary: Any, i: Any, v: Any) -> Any:
    """ary[i:i + 4] = v."""
    sig = types.none(ary, types.intp, f64x4)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        ptr = _element(context, builder, sig.args[0], args[0], args[1])
        builder.store(args[2], builder.bitcast(ptr, _VEC.as_pointer()), align=8)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _quad(typingctx: Any, ary: Any, i0: Any, i1: Any, i2: Any, i3: Any) -> Any:
    """Rows ary[i0:i0+4] … ary[i3:i3+4], transposed: vector t is (ary[i0+t], …, ary[i3+t]). Loaded
    as 128-bit halves, rows 0 and 2 (1 and 3) joined by inserts from memory, then 4 in-lane unpacks:
    no cross-lane shuffle."""
    sig = _QUAD(ary, types.intp, types.intp, types.intp, types.intp)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        def half(i: Any, k: int) -> Any:
            ptr = _element(context, builder, sig.args[0], args[0], builder.add(i, ir.Constant(i.type, k)))
            return builder.load(builder.bitcast(ptr, _HALF.as_pointer()), align=8)

        i0, i1, i2, i3 = args[1:]
        a = builder.shuffle_vector(half(i0, 0), half(i2, 0), _shuffle(0, 1, 2, 3))
        b = builder.shuffle_vector(half(i1, 0), half(i3, 0), _shuffle(0, 1, 2, 3))
        c = builder.shuffle_vector(half(i0, 2), half(i2, 2), _shuffle(0, 1, 2, 3))
        d = builder.shuffle_vector(half(i1, 2), half(i3, 2), _shuffle(0, 1, 2, 3))
        columns = [
            builder.shuffle_vector(a, b, _shuffle(0, 4, 2, 6)),
            builder.shuffle_vector(a, b, _shuffle(1, 5, 3, 7)),
            builder.shuffle_vector(c, d, _shuffle(0, 4, 2, 6)),
            builder.shuffle_vector(c, d, _shuffle(1, 5, 3, 7)),
        ]
        return context.make_tuple(builder, sig.return_type, columns)

    return sig, codegen


@intrinsic
def _splat(typingctx: Any, x: Any) -> Any:
    """(x, x, x, x)."""
    sig = f64x4(types.float64)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        one = builder.insert_element(ir.Constant(_VEC, ir.Undefined), args[0], ir.Constant(ir.IntType(32), 0))
        return builder.shuffle_vector(one, ir.Constant(_VEC, ir.Undefined), _shuffle(0, 0, 0, 0))

    return sig, codegen


@intrinsic
def _make4(typingctx: Any, a: Any, b: Any, c: Any, d: Any) -> Any:
    """(a, b, c, d)."""
    sig = f64x4(types.float64, types.float64, types.float64, types.float64)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        v = ir.Constant(_VEC, ir.Undefined)
        for k, x in enumerate(args):
            v = builder.insert_element(v, x, ir.Constant(ir.IntType(32), k))
        return v

    return sig, codegen


@intrinsic
def _lane(typingctx: Any, v: Any, k: Any) -> Any:
    """v[k]."""
    sig = types.float64(f64x4, types.intp)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.extract_element(args[0], args[1])

    return sig, codegen


def _binary(instruction: str) -> Any:
    @intrinsic
    def op(typingctx: Any, a: Any, b: Any) -> Any:
        sig = f64x4(f64x4, f64x4)

        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            return getattr(builder, instruction)(args[0], args[1])

        return sig, codegen

    return op


_add = _binary("fadd")
_sub = _binary("fsub")
_mul = _binary("fmul")
_div = _binary("fdiv")


def _operator(fn: Any) -> Any:
    # Numba compares the typing function's parameters with the implementation's, annotations
    # included: both are annotated alike.
    def typer(a: Any, b: Any) -> Any:
        if a is f64x4 and b is f64x4:

            def impl(a: Any, b: Any) -> Any:
                return fn(a, b)

            return impl
        return None

    return typer


overload(operator.add)(_operator(_add))
overload(operator.sub)(_operator(_sub))
overload(operator.mul)(_operator(_mul))
overload(operator.truediv)(_operator(_div))


@intrinsic
def _sqrt4(typingctx: Any, a: Any) -> Any:
    """√a lane by lane."""
    sig = f64x4(f64x4)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_VEC, [_VEC]), "llvm.sqrt.v4f64")
        return builder.call(fn, [args[0]])

    return sig, codegen


@intrinsic
def _fma(typingctx: Any, a: Any, b: Any, c: Any) -> Any:
    """a·b + c, rounded once."""
    sig = f64x4(f64x4, f64x4, f64x4)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return _call_fma(builder, *args)

    return sig, codegen


@intrinsic
def _fnma(typingctx: Any, a: Any, b: Any, c: Any) -> Any:
    """c − a·b, rounded once."""
    sig = f64x4(f64x4, f64x4, f64x4)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return _call_fma(builder, builder.fneg(args[0]), args[1], args[2])

    return sig, codegen


@intrinsic
def _fms(typingctx: Any, a: Any, b: Any, c: Any) -> Any:
    """a·b − c, rounded once."""
    sig = f64x4(f64x4, f64x4, f64x4)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return _call_fma(builder, args[0], args[1], builder.fneg(args[2]))

    return sig, codegen


@intrinsic
def _vmax(typingctx: Any, a: Any, b: Any) -> Any:
    """a where a > b, else b, lane by lane."""
    sig = f64x4(f64x4, f64x4)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.select(builder.fcmp_ordered(">", args[0], args[1]), args[0], args[1])

    return sig, codegen


@intrinsic
def _greater(typingctx: Any, a: Any, b: Any) -> Any:
    """Bit k set where a[k] > b[k]."""
    sig = types.int64(f64x4, f64x4)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return _mask(builder, builder.fcmp_ordered(">", args[0], args[1]))

    return sig, codegen


@intrinsic
def _signs(typingctx: Any, a: Any) -> Any:
    """Bit k set where a[k]'s sign bit is set (a negative number, or −0)."""
    sig = types.int64(f64x4)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        ints = builder.bitcast(args[0], _I64X4)
        return _mask(builder, builder.icmp_signed("<", ints, ir.Constant(_I64X4, [0] * 4)))

    return sig, codegen


@intrinsic
def _vor(typingctx: Any, a: Any, b: Any) -> Any:
    """The bitwise or of a and b (a sign bit set in either is set in the result)."""
    sig = f64x4(f64x4, f64x4)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        ints = builder.or_(builder.bitcast(args[0], _I64X4), builder.bitcast(args[1], _I64X4))
        return builder.bitcast(ints, _VEC)

    return sig, codegen


@intrinsic
def _lowest_bit(typingctx: Any, x: Any) -> Any:
    """The index of x's lowest set bit (x ≠ 0)."""
    sig = types.int64(types.int64)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        i64 = ir.IntType(64)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(i64, [i64, ir.IntType(1)]), "llvm.cttz.i64"
        )
        return builder.call(fn, [args[0], ir.Constant(ir.IntType(1), 1)])

    return sig, codegen


@intrinsic
def _fma1(typingctx: Any, a: Any, b: Any, c: Any) -> Any:
    """a·b + c for float64 scalars, rounded once (as `fma` does lane by lane)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        f64 = ir.DoubleType()
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(f64, [f64] * 3), "llvm.fma.f64")
        return builder.call(fn, list(args))

    return sig, codegen


@intrinsic
def _fetch_add(typingctx: Any, ary: Any, i: Any, v: Any) -> Any:
    """ary[i] += v atomically (int64 array), returning the value before: a work queue's counter."""
    sig = types.int64(ary, types.intp, types.int64)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        ptr = _element(context, builder, sig.args[0], args[0], args[1])
        return builder.atomic_rmw("add", ptr, args[2], "monotonic")

    return sig, codegen


# What mypy sees of the intrinsics (Numba calls them with these arguments, from compiled code only).


class Vector(Protocol):
    """An f64x4 value, as the type checker sees it: 4 doubles, lane by lane arithmetic."""

    def __add__(self, other: Vector, /) -> Vector: ...
    def __sub__(self, other: Vector, /) -> Vector: ...
    def __mul__(self, other: Vector, /) -> Vector: ...
    def __truediv__(self, other: Vector, /) -> Vector: ...


Floats = npt.NDArray[np.float64]
Quad = tuple[Vector, Vector, Vector, Vector]
Ternary = Callable[[Vector, Vector, Vector], Vector]

load4: Callable[[Floats, int], Vector] = cast(Any, _load4)
store4: Callable[[Floats, int, Vector], None] = cast(Any, _store4)
quad: Callable[[Floats, int, int, int, int], Quad] = cast(Any, _quad)
splat: Callable[[float], Vector] = cast(Any, _splat)
make4: Callable[[float, float, float, float], Vector] = cast(Any, _make4)
lane: Callable[[Vector, int], float] = cast(Any, _lane)
sqrt4: Callable[[Vector], Vector] = cast(Any, _sqrt4)
fma: Ternary = cast(Any, _fma)
fnma: Ternary = cast(Any, _fnma)
fms: Ternary = cast(Any, _fms)
vmax: Callable[[Vector, Vector], Vector] = cast(Any, _vmax)
greater: Callable[[Vector, Vector], int] = cast(Any, _greater)
signs: Callable[[Vector], int] = cast(Any, _signs)
vor: Callable[[Vector, Vector], Vector] = cast(Any, _vor)
lowest_bit: Callable[[int], int] = cast(Any, _lowest_bit)
fma1: Callable[[float, float, float], float] = cast(Any, _fma1)
fetch_add: Callable[[npt.NDArray[np.int64], int, int], int] = cast(Any, _fetch_add)
