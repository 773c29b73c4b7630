"""Printing: debugprint trees, pprint infix strings, pydotprint DOT text."""
import io
import re
import shutil

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.graph import FunctionGraph, InnerGraphOp
from kiln.printing import char_from_number, debugprint, dprint, listing, pp, pprint, pydotprint
from kiln.scalar import math as sm
from kiln.tensor.elemwise import DimShuffle, Elemwise

ID = re.compile(r"\[id (\w+)\]")


def shared_graph():
    x, y = kt.vector("x"), kt.vector("y")
    e = kt.exp(x)
    out = e * y + e
    out.name = "out"
    return x, y, e, out


# -- debugprint: exact output ------------------------------------------------------------------------
def test_debugprint_exact_tree_with_shared_subtree():
    *_, out = shared_graph()
    assert debugprint(out, file="str") == (
        "add [id A] 'out'\n"
        " ├─ mul [id B]\n"
        " │  ├─ exp [id C]\n"
        " │  │  └─ x [id D]\n"
        " │  └─ y [id E]\n"
        " └─ exp [id C]\n"
        "    └─ ···\n")


def test_debugprint_print_type_and_int_ids():
    x = kt.vector("x")
    m = kt.fmatrix("m")
    out = kt.cast(m, "float64").sum(axis=0) + x
    text = debugprint(out, file="str", print_type=True, ids="int")
    assert text == (
        "add [id 0] <float64 (?,)>\n"
        " ├─ Sum{axis=(0,)} [id 1] <float64 (?,)>\n"
        " │  └─ cast{float64} [id 2] <float64 (?, ?)>\n"
        " │     └─ m [id 3] <float32 (?, ?)>\n"
        " └─ x [id 4] <float64 (?,)>\n")


def test_debugprint_without_ids_and_list_of_outputs():
    x, y, e, out = shared_graph()
    assert debugprint([out, e], file="str", ids="") == (
        "add 'out'\n"
        " ├─ mul\n"
        " │  ├─ exp\n"
        " │  │  └─ x\n"
        " │  └─ y\n"
        " └─ exp\n"
        "    └─ ···\n"
        "exp\n"
        " └─ ···\n")


def test_debugprint_depth():
    *_, out = shared_graph()
    assert debugprint(out, file="str", depth=2) == (
        "add [id A] 'out'\n"
        " ├─ mul [id B]\n"
        " └─ exp [id C]\n")
    assert debugprint(out, file="str", depth=1) == "add [id A] 'out'\n"


def test_debugprint_stop_on_name():
    x = kt.vector("x")
    h = kt.exp(x)
    h.name = "h"
    out = kt.sin(h)
    assert debugprint(out, file="str", stop_on_name=True) == (
        "sin [id A]\n"
        " └─ exp [id B] 'h'\n")


def test_debugprint_constants_by_value_and_unnamed_inputs_by_type():
    v = kt.vector()
    out = kt.maximum(v, kt.constant(np.array([0.0, 1.5])))
    assert debugprint(out, file="str") == (
        "maximum [id A]\n"
        " ├─ <float64 (?,)> [id B]\n"
        " └─ [0.0, 1.5] [id C]\n")


def test_debugprint_multi_output_node_and_inner_graph():
    a, b = kt.vector("a"), kt.vector("b")
    op = InnerGraphOp([a, b], [kt.exp(a) * b, a - b], name="Pair")
    x, y = kt.vector("x"), kt.vector("y")
    p, q = op(x, kt.sin(y))
    assert debugprint([p, q], file="str") == (
        "Pair.0 [id A]\n"
        " ├─ x [id B]\n"
        " └─ sin [id C]\n"
        "    └─ y [id D]\n"
        "Pair.1 [id A]\n"
        " └─ ···\n"
        "\n"
        "Inner graphs:\n"
        "\n"
        "Pair [id A]\n"
        " ← mul [id E]\n"
        "    ├─ exp [id F]\n"
        "    │  └─ *0-a [id G]\n"
        "    └─ *1-b [id H]\n"
        " ← sub [id I]\n"
        "    ├─ *0-a [id G]\n"
        "    └─ *1-b [id H]\n")


def test_debugprint_nested_inner_graphs():
    a = kt.vector("a")
    inner = InnerGraphOp([a], [kt.exp(a)], name="Inner")
    b = kt.vector("b")
    outer = InnerGraphOp([b], [inner(b) + 1.0], name="Outer")
    text = debugprint(outer(kt.vector("x")), file="str")
    sections = text.split("Inner graphs:\n")[1]
    assert "Outer [id" in sections and "Inner [id" in sections
    assert sections.index("Outer [id") < sections.index("Inner [id")


def test_debugprint_destroy_and_view_maps():
    x = kt.vector("x")
    inplace_exp = Elemwise(sm.Exp(), inplace_pattern=((0, 0),))
    out = inplace_exp(x).dimshuffle("x", 0)
    assert debugprint(out, file="str", print_destroy_map=True, print_view_map=True) == (
        "DimShuffle{x,0} [id A] v={0: [0]}\n"
        " └─ exp{inplace} [id B] d={0: [0]}\n"
        "    └─ x [id C]\n")
    plain = debugprint(out, file="str")
    assert "d=" not in plain and "v=" not in plain


def test_debugprint_function_graph_shows_topological_positions():
    x, y, e, out = shared_graph()
    fg = FunctionGraph([x, y], [out], clone=False)
    assert debugprint(fg, file="str") == (
        "add [id A] 'out' 2\n"
        " ├─ mul [id B] 1\n"
        " │  ├─ exp [id C] 0\n"
        " │  │  └─ x [id D]\n"
        " │  └─ y [id E]\n"
        " └─ exp [id C] 0\n"
        "    └─ ···\n")


def test_debugprint_compiled_function_prints_rewritten_graph():
    x, y, e, out = shared_graph()
    f = kiln.function([x, y], out, mode=kiln.Mode(rewrites="none", linker="py"))
    assert debugprint(f, file="str") == debugprint(f.fgraph, file="str")
    assert debugprint(f, file="str").startswith("add [id A] 'out' 2\n")
    g = kiln.function([x], kt.exp(x).sum())
    text = debugprint(g, file="str")
    assert text == debugprint(g.fgraph, file="str")
    assert len(text.splitlines()) >= len(g.fgraph.apply_nodes)


def test_debugprint_apply_prints_its_outputs():
    *_, out = shared_graph()
    assert debugprint(out.owner, file="str") == debugprint(out, file="str")


def test_debugprint_shared_ids_reused_structurally():
    x = kt.vector("x")
    shared = kt.exp(x) + x
    out = kt.sin(shared) * kt.cos(shared) + shared
    lines = debugprint(out, file="str").splitlines()
    add_lines = [ln for ln in lines if ln.lstrip(" ├└│─").startswith("add") and "[id" in ln]
    ids = [ID.search(ln).group(1) for ln in add_lines]
    # the inner `add` (shared) is printed three times with one id; only its first occurrence expanded
    shared_id = ids[1]
    assert ids.count(shared_id) == 3
    assert sum(1 for ln in lines if ln.strip().endswith("···")) == 2
    # each distinct variable/node gets a distinct id
    x_ids = {ID.search(ln).group(1) for ln in lines if ln.lstrip(" ├└│─").startswith("x [id")}
    assert len(x_ids) == 1


def test_debugprint_done_dict_shares_ids_across_calls():
    x, y, e, out = shared_graph()
    done = {}
    first = debugprint(e, file="str", done=done)
    second = debugprint(out, file="str", done=done)
    assert first == "exp [id A]\n └─ x [id B]\n"
    # exp and x keep their ids; exp is not expanded again
    assert " └─ exp [id A]\n    └─ ···" in second
    assert ID.findall(second.splitlines()[0]) == ["C"]


def test_debugprint_file_argument_and_stdout(capsys):
    x = kt.vector("x")
    buf = io.StringIO()
    assert debugprint(kt.exp(x), file=buf) is buf
    assert buf.getvalue() == "exp [id A]\n └─ x [id B]\n"
    debugprint(kt.exp(x))
    assert capsys.readouterr().out == "exp [id A]\n └─ x [id B]\n"
    assert dprint is debugprint


def test_debugprint_id_styles():
    x = kt.vector("x")
    e = kt.exp(x)
    text = debugprint(e, file="str", ids="id")
    assert f"[id {id(e.owner)}]" in text and f"[id {id(x)}]" in text
    assert debugprint(e, file="str", id_type="int") == "exp [id 0]\n └─ x [id 1]\n"
    with pytest.raises(ValueError, match="ids"):
        debugprint(e, file="str", ids="roman")


def test_char_ids_continue_past_z():
    assert [char_from_number(n) for n in (0, 25, 26, 51, 52, 26 * 26)] == ["A", "Z", "BA", "BZ", "CA", "BAA"]
    x = kt.vector("x")
    v = x
    for _ in range(30):
        v = kt.exp(v)
    ids = ID.findall(debugprint(v, file="str"))
    assert len(ids) == len(set(ids)) == 31 and ids[26] == "BA"


def test_debugprint_deep_graph_has_no_recursion_limit():
    x = kt.scalar("x")
    v = x
    for _ in range(2000):  # deeper than Python's recursion limit; the text grows as depth**2
        v = kt.neg(v)
    lines = debugprint(v, file="str", ids="").splitlines()
    assert len(lines) == 2001 and lines[-1].endswith("└─ x")


def test_debugprint_rejects_other_objects():
    with pytest.raises(TypeError, match="cannot print"):
        debugprint(42, file="str")


# -- pprint --------------------------------------------------------------------------------------------------
@pytest.fixture
def xyz():
    return kt.vector("x"), kt.vector("y"), kt.vector("z")


def test_pprint_example_from_the_docs(xyz):
    x, y, z = xyz
    assert pprint((x + y) * kt.exp(z)) == "((x + y) * exp(z))"
    assert pp is pprint


@pytest.mark.parametrize("build, expected", [
    (lambda x, y, z: x * y + z, "(x * y + z)"),
    (lambda x, y, z: x - (y - z), "(x - (y - z))"),
    (lambda x, y, z: (x - y) - z, "(x - y - z)"),
    (lambda x, y, z: x + (y + z), "(x + (y + z))"),
    (lambda x, y, z: x / (y * z), "(x / (y * z))"),
    (lambda x, y, z: x * y / z, "(x * y / z)"),
    (lambda x, y, z: x // y % z, "(x // y % z)"),
    (lambda x, y, z: x ** y ** z, "(x ** y ** z)"),
    (lambda x, y, z: (x ** y) ** z, "((x ** y) ** z)"),
    (lambda x, y, z: -x, "(-x)"),
    (lambda x, y, z: -(x ** y), "(-(x ** y))"),
    (lambda x, y, z: (-x) ** y, "((-x) ** y)"),
    (lambda x, y, z: -(-x), "(-(-x))"),
    (lambda x, y, z: x * -y, "(x * -y)"),
    (lambda x, y, z: kt.lt(x + y, z), "(x + y < z)"),
    (lambda x, y, z: kt.eq(kt.lt(x, y), kt.lt(y, z)), "((x < y) == (y < z))"),
    (lambda x, y, z: kt.exp(x + y), "exp(x + y)"),
    (lambda x, y, z: kt.maximum(x, y * z), "maximum(x, y * z)"),
    (lambda x, y, z: x + 2.0, "(x + 2.0)"),
    (lambda x, y, z: x * -1.0, "(x * -1.0)"),
    (lambda x, y, z: kt.constant(-1.0) ** x, "((-1.0) ** x)"),
    (lambda x, y, z: kt.sum(x * y), "Sum{axis=(0,)}(x * y)"),
])
def test_pprint_parenthesizes_only_where_needed(xyz, build, expected):
    x, y, z = xyz
    out = build(x, y, z)
    assert pprint(out) == expected


def test_pprint_strings_evaluate_like_the_graph(xyz, rng):
    # the printed infix string, read as Python, computes what the graph computes
    x, y, z = xyz
    vals = {"x": rng.uniform(1, 2, 3), "y": rng.uniform(1, 2, 3), "z": rng.uniform(1, 2, 3)}
    graphs = [x * y + z, x - (y - z), (x - y) - z, x ** y ** z, (x ** y) ** z, -(x ** y), (-x) ** 2.0,
              x / (y * z), x * y / z, (x + y) * (y - z) / (z + 1.0), x - -y]
    for g in graphs:
        text = pprint(g)
        with np.errstate(invalid="ignore"):  # (-x) ** y is NaN on both sides
            got = eval(text, {}, dict(vals))
        want = g.eval({x: vals["x"], y: vals["y"], z: vals["z"]})
        np.testing.assert_allclose(got, want, err_msg=text)


def test_pprint_bitwise_and_unary_invert():
    a, b = kt.ivector("a"), kt.ivector("b")
    assert pprint((a & b) | ~a) == "(a & b | ~a)"
    assert pprint(a & (b | a)) == "(a & (b | a))"


def test_pprint_dimshuffle_forms():
    m, x = kt.matrix("m"), kt.vector("x")
    assert pprint(m.T) == "m.T"
    assert pprint((m + 1.0).T) == "(m + 1.0).T"
    assert pprint(x.dimshuffle("x", 0)) == "DimShuffle{x,0}(x)"
    t3 = kt.tensor3("t")
    assert pprint(t3.dimshuffle(2, 0, 1)) == "DimShuffle{2,0,1}(t)"
    # the broadcasting DimShuffle an Elemwise inserts is not shown
    assert pprint(m * x) == "(m * x)"
    assert isinstance((m * x).owner.inputs[1].owner.op, DimShuffle)


def test_pprint_leaves():
    x = kt.vector("x")
    assert pprint(x) == "x"
    assert pprint(kt.constant(3.0)) == "3.0"
    assert pprint(kt.vector()) == "<float64 (?,)>"


def test_pprint_multiple_outputs_and_graphs(xyz):
    x, y, z = xyz
    assert pprint([x + y, kt.exp(z)]) == "(x + y)\nexp(z)"
    fg = FunctionGraph([x, y], [x * y], clone=False)
    assert pprint(fg) == "(x * y)"


def test_pprint_shared_subexpression_printed_inline(xyz):
    x, y, z = xyz
    s = x + y
    assert pprint(s * s) == "((x + y) * (x + y))"


def test_pprint_deep_graph():
    x = kt.scalar("x")
    v = x
    for _ in range(3000):
        v = kt.exp(v)
    text = pprint(v)
    assert text.startswith("exp(exp(") and text.count("(") == 3000


# -- pydotprint ---------------------------------------------------------------------------------------------
def test_pydotprint_exact_dot_text():
    x, y = kt.vector("x"), kt.vector("y")
    out = kt.exp(x) * y
    out.name = "out"
    assert pydotprint(out, print_type=False) == (
        "digraph kiln {\n"
        "  rankdir=TB;\n"
        '  n0 [label="x", shape=ellipse, style=filled, fillcolor=palegreen];\n'
        '  n1 [label="exp", shape=box];\n'
        '  n2 [label="y", shape=ellipse, style=filled, fillcolor=palegreen];\n'
        '  n3 [label="mul", shape=box];\n'
        '  n4 [label="out", shape=ellipse, style=filled, fillcolor=lightblue];\n'
        "  n0 -> n1;\n"
        '  n1 -> n3 [label="0"];\n'
        '  n2 -> n3 [label="1"];\n'
        "  n3 -> n4;\n"
        "}\n")


def test_pydotprint_structure_types_and_constants():
    x = kt.vector("x")
    e = kt.exp(x)
    out = e * e + kt.constant(np.array([1.0, 2.0]))
    text = pydotprint(out)
    node_lines = [ln for ln in text.splitlines() if "[label=" in ln and "->" not in ln]
    edge_lines = [ln for ln in text.splitlines() if "->" in ln]
    assert sum('"exp"' in ln for ln in node_lines) == 1  # shared node drawn once
    assert sum("fillcolor=lightgrey" in ln for ln in node_lines) == 1  # the constant
    assert len(edge_lines) == 1 + 2 + 2 + 1  # x->exp, exp->mul twice, mul/const->add, add->output
    assert 'label="0 float64 (?,)"' in text
    assert text.startswith("digraph kiln {") and text.rstrip().endswith("}")


def test_pydotprint_quotes_labels():
    x = kt.vector('a "quoted" name')
    text = pydotprint(kt.exp(x), print_type=False)
    assert 'label="a \\"quoted\\" name"' in text


def test_pydotprint_function_and_outfile(tmp_path):
    x = kt.vector("x")
    f = kiln.function([x], kt.exp(x) + x, mode=kiln.Mode(rewrites="none", linker="py"))
    path = tmp_path / "g.dot"
    text = pydotprint(f, outfile=str(path))
    assert path.read_text() == text
    assert text == pydotprint(f.fgraph)


def test_pydotprint_image_needs_graphviz(tmp_path):
    x = kt.vector("x")
    target = tmp_path / "g.svg"
    if shutil.which("dot") is None:
        with pytest.raises(RuntimeError, match="graphviz"):
            pydotprint(kt.exp(x), outfile=str(target), format="svg")
    else:
        pydotprint(kt.exp(x), outfile=str(target), format="svg")
        assert target.read_text().lstrip().startswith(("<?xml", "<svg"))


# -- listing and fused kernels ----------------------------------------------------------------------------
def test_listing_exact():
    x, y, e, out = shared_graph()
    assert listing(out) == (
        "t0 = exp(x)\n"
        "t1 = mul(t0, y)\n"
        "out = add(t1, t0)\n"
        "return out\n")


def test_listing_constants_types_and_name_clashes():
    a1, a2 = kt.vector("a"), kt.vector("a")
    out = kt.maximum(a1, a2) * 3.0
    assert listing(out, print_type=True) == (
        "t0 = maximum(a, a_1)  # <float64 (?,)>\n"
        "t1 = DimShuffle{x}(3.0)  # <float64 (1,)>\n"
        "t2 = mul(t0, t1)  # <float64 (?,)>\n"
        "return t2\n")


def test_listing_multi_output_and_graph_inputs_order():
    a, b = kt.vector("a"), kt.vector("b")
    op = InnerGraphOp([a, b], [a + b, a - b], name="SumDiff")
    x, y = kt.vector("x"), kt.vector("y")
    s, d = op(x, y)
    fg = FunctionGraph([y, x], [d, s], clone=False)
    assert listing(fg) == "t0, t1 = SumDiff(x, y)\nreturn t1, t0\n"


def test_fused_composite_inner_graph_is_printed():
    from kiln.scalar.basic import scalar_type
    from kiln.scalar.composite import Composite

    a, b = scalar_type("float64")("a"), scalar_type("float64")("b")
    comp = Composite([a, b], [sm.add(sm.exp(a), b)], name="fused")
    x, y = kt.vector("x"), kt.vector("y")
    out = Elemwise(comp)(x, y)
    np.testing.assert_allclose(out.eval({x: np.array([0.0]), y: np.array([1.0])}), [2.0])
    assert debugprint(out, file="str") == (
        "fused [id A]\n"
        " ├─ x [id B]\n"
        " └─ y [id C]\n"
        "\n"
        "Inner graphs:\n"
        "\n"
        "fused [id A]\n"
        " ← add [id D]\n"
        "    ├─ exp [id E]\n"
        "    │  └─ *0-a [id F]\n"
        "    └─ *1-b [id G]\n")


def test_pprint_refuses_exponentially_long_expressions():
    x = kt.vector("x")
    v = x
    for _ in range(40):  # 2**40 copies of x once spelled out
        v = v * v
    with pytest.raises(ValueError, match="debugprint"):
        pprint(v)
    assert len(listing(v).splitlines()) == 41
    # the first operands in a chain (40 muls + x), then each second operand once more: the
    # 39 muls repeated with their "···" line, and x
    assert len(debugprint(v, file="str").splitlines()) == 41 + 2 * 39 + 1
