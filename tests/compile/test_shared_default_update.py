"""default_update on any shared variable (PyTensor's counters and generators)."""
import kiln


def test_default_update_on_any_shared_variable():
    import pickle

    s = kiln.shared(0.0, name="counter")
    s.default_update = s + 1
    f = kiln.function([], s * 10)
    assert [float(f()) for _ in range(3)] == [0.0, 10.0, 20.0] and s.get_value() == 3.0
    kiln.function([], s * 1, no_default_updates=True)()
    assert s.get_value() == 3.0
    kiln.function([], s * 1, updates=[(s, s - 3)])()      # an explicit update wins
    assert s.get_value() == 0.0
    assert s.clone().default_update is s.default_update
    assert pickle.loads(pickle.dumps(s)).default_update is None   # graphs are not pickled
