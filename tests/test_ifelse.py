"""ifelse (PyTensor's pytensor.ifelse.ifelse): values, shapes, errors and derivatives, on the
python and C linkers."""
import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.gradient import verify_grad
from kiln.ifelse import IfElse, ifelse

MODES = [kiln.Mode(linker="py"), kiln.Mode(linker="auto")]


@pytest.mark.parametrize("mode", MODES, ids=["py", "auto"])
@pytest.mark.parametrize("cond_dtype", ["bool", "int8", "float64"])
def test_chooses_the_branch(mode, cond_dtype):
    c = kt.scalar("c", dtype=cond_dtype)
    x = kt.dvector("x")
    f = kiln.function([c, x], ifelse(c, kt.exp(x), x * 2), mode=mode)
    v = np.array([0.5, -1.0, 0.0])
    np.testing.assert_allclose(f(np.array(1, dtype=cond_dtype), v), np.exp(v))
    np.testing.assert_allclose(f(np.array(0, dtype=cond_dtype), v), v * 2)


@pytest.mark.parametrize("mode", MODES, ids=["py", "auto"])
def test_branches_of_different_shapes_and_several_outputs(mode):
    c = kt.bscalar("c")
    x, y = kt.dvector("x"), kt.dmatrix("y")
    a, b = ifelse(c, [x, y], [x[:2], y.T])
    assert a.type.shape == (None,) and b.type.shape == (None, None)
    f = kiln.function([c, x, y], [a, b, a.shape[0]], mode=mode)
    xv, yv = np.arange(3.0), np.arange(6.0).reshape(2, 3)
    r = f(1, xv, yv)
    np.testing.assert_array_equal(r[0], xv)
    np.testing.assert_array_equal(r[1], yv)
    assert r[2] == 3
    r = f(0, xv, yv)
    np.testing.assert_array_equal(r[0], xv[:2])
    np.testing.assert_array_equal(r[1], yv.T)
    assert r[2] == 2


def test_static_shape_kept_where_branches_agree_and_the_result_is_a_copy():
    x = kt.tensor(dtype="float64", shape=(3, None))
    y = kt.tensor(dtype="float64", shape=(3, 4))
    out = ifelse(kt.bscalar(), x, y)
    assert out.type.shape == (3, None)
    c = kt.bscalar("c")
    v = kt.dvector("v")
    f = kiln.function([c, v], ifelse(c, v, v), mode=kiln.Mode(linker="py"))
    arr = np.ones(2)
    res = f(1, arr)
    res[0] = 5.0
    assert arr[0] == 1.0


def test_errors_name_the_problem():
    x, i = kt.dvector(), kt.lvector()
    with pytest.raises(TypeError, match="scalar"):
        ifelse(kt.dvector(), x, x)
    with pytest.raises(TypeError, match="dtype and number of dimensions"):
        ifelse(kt.bscalar(), x, i)
    with pytest.raises(TypeError, match="dtype and number of dimensions"):
        ifelse(kt.bscalar(), x, kt.dmatrix())
    with pytest.raises(ValueError, match="as many"):
        ifelse(kt.bscalar(), [x, x], [x])


@pytest.mark.parametrize("take_then", [True, False])
def test_gradients_follow_the_chosen_branch(take_then):
    a, x = kt.dscalar("a"), kt.dvector("x")
    out = ifelse(kt.gt(a, 0), x ** 2 * a, kt.sin(x))
    ga, gx = kiln.grad(out.sum(), [a, x])
    av = 2.0 if take_then else -1.0
    xv = np.array([0.3, -1.2, 2.0])
    got_a, got_x = kiln.function([a, x], [ga, gx])(av, xv)
    if take_then:
        np.testing.assert_allclose(got_a, (xv ** 2).sum())
        np.testing.assert_allclose(got_x, 2 * av * xv)
    else:
        assert got_a == 0.0
        np.testing.assert_allclose(got_x, np.cos(xv))


@pytest.mark.parametrize("cond", [1, 0])
def test_verify_grad_and_rop(cond):
    c = kt.constant(np.int8(cond))
    rng = np.random.default_rng(0)
    verify_grad(lambda x, y: ifelse(c, kt.tanh(x) * y, x / (1 + y ** 2)), [rng.normal(size=3), rng.normal(size=3)],
                rng=rng)
    x = kt.dvector("x")
    out = ifelse(c, kt.exp(x), x ** 3)
    xv = np.array([0.2, 0.7])
    rop = kiln.function([x], kiln.Rop(out, x, kt.ones_like(x)))(xv)
    np.testing.assert_allclose(rop, np.exp(xv) if cond else 3 * xv ** 2)


def test_transpose_is_the_adjoint():
    """<ifelse(c, u, w), ct> == <u, ct_u> + <w, ct_w> for the transposed cotangents."""
    c = kt.bscalar("c")
    u, w, ct = kt.dvector("u"), kt.dvector("w"), kt.dvector("ct")
    out = ifelse(c, u, w)
    cu, cw = kiln.gradient.Lop(out, [u, w], ct)
    f = kiln.function([c, u, w, ct], [kt.sum(out * ct), kt.sum(u * cu) + kt.sum(w * cw)])
    rng = np.random.default_rng(1)
    for cv in (0, 1):
        lhs, rhs = f(cv, *rng.normal(size=(3, 4)))
        np.testing.assert_allclose(lhs, rhs)


def test_top_level_name_and_op_identity():
    assert kiln.ifelse is ifelse
    assert IfElse(2) == IfElse(2) and IfElse(1) != IfElse(2)


# -- laziness: only the chosen branch runs ----------------------------------------------
from kiln.graph.basic import Apply  # noqa: E402
from kiln.graph.op import Op  # noqa: E402
from kiln.ifelse import LazyIfElse  # noqa: E402
from kiln.raise_op import Assert  # noqa: E402

LAZY_MODES = [kiln.Mode(linker="py"), kiln.Mode(), kiln.Mode(rewrites="fast_compile"),
              kiln.Mode(linker="py").excluding("fusion")]
LAZY_IDS = ["py", "auto", "fast_compile", "py-nofusion"]


class Triple(Op):
    """3 * x in Python, counting its runs (one counter per instance)."""

    __props__ = ("tag",)

    def __init__(self, tag):
        self.tag = tag

    def make_node(self, x):
        x = kt.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, out):
        Triple.runs[self.tag] = Triple.runs.get(self.tag, 0) + 1
        out[0][0] = np.asarray(inputs[0] * 3)

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[0]]


Triple.runs = {}


def lazy_nodes(f):
    return [n for n in f.fgraph.toposort() if isinstance(n.op, LazyIfElse)]


@pytest.mark.parametrize("mode", LAZY_MODES, ids=LAZY_IDS)
def test_the_other_branch_is_not_run(mode):
    c, x = kt.bscalar("c"), kt.dvector("x")
    t, e = Triple(f"then-{mode}"), Triple(f"else-{mode}")
    f = kiln.function([c, x], ifelse(c, t(kt.exp(x)).sum(), e(x).max() * 2), mode=mode)
    assert len(lazy_nodes(f)) == 1
    Triple.runs.clear()
    xv = np.array([0.0, 1.0, -2.0])
    np.testing.assert_allclose(f(1, xv), 3 * np.exp(xv).sum())
    assert Triple.runs == {t.tag: 1}
    np.testing.assert_allclose(f(0, xv), 3 * xv.max() * 2)
    assert Triple.runs == {t.tag: 1, e.tag: 1}


@pytest.mark.parametrize("mode", LAZY_MODES, ids=LAZY_IDS)
def test_a_failing_branch_is_harmless_unless_chosen(mode):
    """An Assert and an out-of-bounds index in the branch not taken never run."""
    c, x = kt.bscalar("c"), kt.dvector("x")
    bad_assert = Assert("else branch ran")(x, kt.lt(x.size, 0)).sum()
    bad_index = x[7] * 2
    f = kiln.function([c, x], [ifelse(c, x.sum(), bad_assert), ifelse(c, x.mean(), bad_index)], mode=mode)
    xv = np.arange(3.0)
    s, m = f(1, xv)
    assert s == 3.0 and m == 1.0
    with pytest.raises(AssertionError, match="else branch ran"):
        f(0, xv)
    g = kiln.function([c, x], ifelse(c, bad_index, x.sum()), mode=mode)
    assert g(0, xv) == 3.0
    with pytest.raises(IndexError):
        g(1, xv)


@pytest.mark.parametrize("mode", MODES, ids=["py", "auto"])
def test_lazy_results_match_numpy_with_shared_work_outside(mode):
    """Work both branches (or another output) use stays outside; each branch keeps its own."""
    c, x, y = kt.dscalar("c"), kt.dvector("x"), kt.dmatrix("y")
    common = kt.exp(x)                    # used by both branches
    tr = Triple(f"outside-{mode}")
    other = kt.sin(tr(y) / 3)             # used by the then-branch and by another output
    then_b = [common * 2 + other.sum(), kt.dot(y, y.T)]
    else_b = [common[:2] - 1.0, y[:1] * kt.log1p(kt.abs(y[:1]))]
    a, b = ifelse(kt.gt(c, 0), then_b, else_b)
    f = kiln.function([c, x, y], [a, b, other.mean()], mode=mode)
    (node,) = lazy_nodes(f)
    assert any(n.op is tr for n in f.fgraph.apply_nodes)
    assert not any(n.op is tr for n in node.op.fgraph.apply_nodes)
    assert any(str(n.op) == "dot" or "gemm" in str(n.op) or "Dot" in str(n.op) for n in node.op.fgraph.apply_nodes)
    rng = np.random.default_rng(3)
    xv, yv = rng.normal(size=3), rng.normal(size=(2, 4))
    ra, rb, rm = f(1.0, xv, yv)
    np.testing.assert_allclose(ra, np.exp(xv) * 2 + np.sin(yv).sum())
    np.testing.assert_allclose(rb, yv @ yv.T)
    np.testing.assert_allclose(rm, np.sin(yv).mean())
    ra, rb, rm = f(-1.0, xv, yv)
    np.testing.assert_allclose(ra, np.exp(xv)[:2] - 1.0)
    np.testing.assert_allclose(rb, yv[:1] * np.log1p(np.abs(yv[:1])))


@pytest.mark.parametrize("mode", MODES, ids=["py", "auto"])
def test_nested_ifelse_runs_one_path(mode):
    c, d, x = kt.bscalar("c"), kt.bscalar("d"), kt.dvector("x")
    t1, t2, t3 = (Triple(f"nested-{k}-{mode}") for k in range(3))
    out = ifelse(c, ifelse(d, t1(x).sum(), t2(x).max()), t3(x).min())
    f = kiln.function([c, d, x], out, mode=mode)
    xv = np.array([1.0, -2.0, 4.0])
    for cv, dv, want, tag in [(1, 1, 9.0, t1.tag), (1, 0, 12.0, t2.tag), (0, 1, -6.0, t3.tag), (0, 0, -6.0, t3.tag)]:
        Triple.runs.clear()
        assert f(cv, dv, xv) == want
        assert Triple.runs == {tag: 1}


@pytest.mark.parametrize("mode", MODES, ids=["py", "auto"])
def test_ifelse_inside_a_scan_step(mode):
    x = kt.dvector("x")
    t, e = Triple(f"scan-then-{mode}"), Triple(f"scan-else-{mode}")

    def step(xt, acc):
        return acc + ifelse(kt.gt(xt, 0), t(xt), e(xt) * -1.0)

    s, _ = kiln.scan(step, sequences=x, outputs_info=kt.constant(0.0), mode=mode)
    f = kiln.function([x], s, mode=mode)
    xv = np.array([1.0, -2.0, 3.0, 0.5, -1.0])
    Triple.runs.clear()
    np.testing.assert_allclose(f(xv), np.cumsum(np.where(xv > 0, 3 * xv, -3 * xv)))
    assert Triple.runs == {t.tag: 3, e.tag: 2}


@pytest.mark.parametrize("mode", MODES, ids=["py", "auto"])
@pytest.mark.parametrize("cond", [0, 1])
def test_lazy_gradients_match_finite_differences(mode, cond):
    a, x = kt.dscalar("a"), kt.dvector("x")
    out = ifelse(kt.constant(np.int8(cond)) > 0, (kt.tanh(x * a) ** 2).sum(), kt.exp(x / a).sum())
    ga, gx = kiln.grad(out, [a, x])
    f = kiln.function([a, x], [out, ga, gx], mode=mode)
    g = kiln.function([a, x], out, mode=mode)
    av, xv = 0.7, np.array([0.3, -1.2, 0.5])
    _, got_a, got_x = f(av, xv)
    eps = 1e-6
    np.testing.assert_allclose(got_a, (g(av + eps, xv) - g(av - eps, xv)) / (2 * eps), rtol=1e-6)
    fd = [(g(av, xv + eps * np.eye(3)[i]) - g(av, xv - eps * np.eye(3)[i])) / (2 * eps) for i in range(3)]
    np.testing.assert_allclose(got_x, fd, rtol=1e-6)


def test_grad_and_rop_of_the_lazy_form_itself():
    """The jvp rule of LazyIfElse (a compiled graph differentiated again)."""
    c, x = kt.bscalar("c"), kt.dvector("x")
    f = kiln.function([c, x], ifelse(c, kt.sin(x) * x, x ** 3))
    assert len(lazy_nodes(f)) == 1
    ci, xi = f.fgraph.inputs
    out = f.fgraph.outputs[0]
    gx = kiln.grad(out.sum(), xi)
    v = kt.dvector("v")
    rop = kiln.Rop(out, xi, v)
    h = kiln.function([ci, xi, v], [gx, rop])
    xv, vv = np.array([0.4, -1.1]), np.array([1.0, 2.0])
    g1, r1 = h(1, xv, vv)
    np.testing.assert_allclose(g1, np.cos(xv) * xv + np.sin(xv))
    np.testing.assert_allclose(r1, (np.cos(xv) * xv + np.sin(xv)) * vv)
    g0, r0 = h(0, xv, vv)
    np.testing.assert_allclose(g0, 3 * xv ** 2)
    np.testing.assert_allclose(r0, 3 * xv ** 2 * vv)


@pytest.mark.parametrize("mode", MODES, ids=["py", "auto"])
def test_lazy_result_never_aliases_an_input_and_pickles(mode):
    import pickle

    c, x = kt.bscalar("c"), kt.dvector("x")
    f = kiln.function([c, x], ifelse(c, x, kt.exp(x)), mode=mode)
    assert len(lazy_nodes(f)) == 1
    (node,) = lazy_nodes(f)
    assert node.op.mode == mode      # the branches compile with the function's own mode
    xv = np.ones(2)
    r = f(1, xv)
    r[0] = 5.0
    assert xv[0] == 1.0
    g = pickle.loads(pickle.dumps(f))
    np.testing.assert_allclose(g(0, xv), np.exp(xv))
    np.testing.assert_allclose(g(1, xv), xv)


def test_shared_update_through_ifelse():
    w = kiln.shared(np.float64(10.0), name="w")
    c = kt.bscalar("c")
    t = Triple("update-then")
    f = kiln.function([c], [], updates={w: ifelse(c, t(w) - 1.0, w)})
    Triple.runs.clear()
    f(0)
    assert w.get_value() == 10.0 and Triple.runs == {}
    f(1)
    assert w.get_value() == 29.0 and Triple.runs == {t.tag: 1}


def test_without_rewrites_both_branches_run():
    """Mode(rewrites="none") rewrites nothing, so the eager IfElse computes both branches."""
    c, x = kt.bscalar("c"), kt.dvector("x")
    t, e = Triple("none-then"), Triple("none-else")
    f = kiln.function([c, x], ifelse(c, t(x), e(x)), mode=kiln.Mode(rewrites="none"))
    assert not lazy_nodes(f)
    Triple.runs.clear()
    np.testing.assert_allclose(f(1, np.ones(2)), 3 * np.ones(2))
    assert Triple.runs == {t.tag: 1, e.tag: 1}


def test_lazy_shapes_and_static_types():
    c, x = kt.bscalar("c"), kt.dvector("x")
    out = ifelse(c, kt.exp(x), kt.exp(x[:2]) * 2)
    f = kiln.function([c, x], [out, out.shape[0]])
    r, n = f(1, np.zeros(4))
    assert r.shape == (4,) and n == 4
    r, n = f(0, np.zeros(4))
    assert r.shape == (2,) and n == 2
    (node,) = lazy_nodes(f)
    assert node.outputs[0].type == out.type


def test_grad_through_a_scan_whose_step_has_an_ifelse():
    x, a = kt.dvector("x"), kt.dscalar("a")

    def step(xt, h, a):
        return ifelse(kt.gt(xt, 0), kt.tanh(h * a + xt), h * xt)

    hs, _ = kiln.scan(step, sequences=x, outputs_info=kt.constant(0.5), non_sequences=a)
    rng = np.random.default_rng(5)
    verify_grad(lambda xv, av: kiln.scan(step, sequences=xv, outputs_info=kt.constant(0.5),
                                         non_sequences=av)[0].sum(),
                [np.array([0.5, -0.3, 1.2, -0.8]), np.float64(0.9)], rng=rng)
    f = kiln.function([x, a], hs)
    xv = np.array([0.5, -0.3, 1.2])
    h, want = 0.5, []
    for xt in xv:
        h = np.tanh(h * 0.9 + xt) if xt > 0 else h * xt
        want.append(h)
    np.testing.assert_allclose(f(xv, 0.9), want)


def test_pytensor_signatures():
    """IfElse(n_outs, as_view=, name=) and ifelse's container types follow PyTensor."""
    c, x, y = kt.bscalar("c"), kt.dvector("x"), kt.dvector("y")
    op = IfElse(1, as_view=True, name="pick")
    assert op == IfElse(1) and op.name == "pick"
    r = ifelse(c, (x, y), (y, x))
    assert isinstance(r, tuple) and len(r) == 2
    assert isinstance(ifelse(c, [x], [y]), list)
    f = kiln.function([c, x, y], [op(c, x, y), *r])
    xv, yv = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    a, b, d = f(0, xv, yv)
    np.testing.assert_array_equal(a, yv)
    np.testing.assert_array_equal(b, yv)
    np.testing.assert_array_equal(d, xv)


def test_shape_only_branches_stay_eager():
    """An ifelse over lengths (what shape inference builds for an ifelse's shape) has nothing
    worth skipping: it is not turned into a compiled lazy node."""
    c, x, y = kt.bscalar("c"), kt.dvector("x"), kt.dmatrix("y")
    f = kiln.function([c, x, y], ifelse(c, x.shape[0] * 2, y.shape[1]))
    assert not lazy_nodes(f)
    assert f(1, np.ones(3), np.ones((2, 5))) == 6 and f(0, np.ones(3), np.ones((2, 5))) == 5
    g = kiln.function([c, x], ifelse(c, kt.exp(x), x[:2]).mean())
    assert len(lazy_nodes(g)) == 1
    np.testing.assert_allclose(g(1, np.zeros(4)), 1.0)
    np.testing.assert_allclose(g(0, np.arange(4.0)), 0.5)
