import numpy as np
import pytest
from seqatac._errors import SeqatacInputError
from seqatac.data import (
    ALPHABET,
    N_CODE,
    decode_sequence,
    encode_sequence,
    gc_content,
    one_hot,
    reverse_complement,
)


def test_encode_codes_case_and_iupac():
    codes = encode_sequence("ACGTNacgtnRYKM-x")
    assert codes.dtype == np.int8
    assert codes.tolist() == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 4, 4, 4, 4, 4, 4]
    assert encode_sequence(b"GgTa").tolist() == [2, 2, 3, 0]
    assert encode_sequence("AC\u00e9G").tolist() == [0, 1, 4, 2]  # non-ASCII is N
    assert ALPHABET == "ACGT" and N_CODE == 4


def test_decode_round_trip():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 5, 500).astype(np.int8)
    text = decode_sequence(codes)
    assert set(text) <= set("ACGTN") and len(text) == 500
    np.testing.assert_array_equal(encode_sequence(text), codes)
    assert decode_sequence(encode_sequence("acgtRn")) == "ACGTNN"
    with pytest.raises(SeqatacInputError):
        decode_sequence(np.array([0, 7]))


def test_one_hot_shape_and_n_column():
    codes = np.array([[0, 1, 2, 3, 4], [4, 3, 2, 1, 0]], dtype=np.int8)
    x = one_hot(codes)
    assert x.shape == (2, 4, 5) and x.dtype == np.float32
    np.testing.assert_array_equal(x[0, :, :4], np.eye(4))
    np.testing.assert_array_equal(x[0, :, 4], 0)  # N is an all-zero column
    np.testing.assert_array_equal(x.sum(axis=1), [[1, 1, 1, 1, 0], [0, 1, 1, 1, 1]])
    assert one_hot(codes[0], dtype=np.uint8).dtype == np.uint8


def test_reverse_complement_all_kinds():
    assert reverse_complement("AACGTN") == "NACGTT"
    assert reverse_complement("acgR") == "Ycgt"
    codes = encode_sequence("AACGTN")
    assert reverse_complement(codes).tolist() == encode_sequence("NACGTT").tolist()
    rng = np.random.default_rng(1)
    batch = rng.integers(0, 5, (3, 50)).astype(np.int8)
    rc = reverse_complement(batch)
    assert rc.dtype == np.int8
    np.testing.assert_array_equal(reverse_complement(rc), batch)
    # one-hot agrees with codes and is an involution
    np.testing.assert_array_equal(reverse_complement(one_hot(batch)), one_hot(rc))
    np.testing.assert_array_equal(reverse_complement(reverse_complement(one_hot(batch))), one_hot(batch))
    text = decode_sequence(batch[0])
    assert reverse_complement(reverse_complement(text)) == text
    assert decode_sequence(rc[0]) == reverse_complement(text)


def test_gc_content():
    codes = np.stack([encode_sequence("GGCCATNN"), encode_sequence("NNNNNNNN"), encode_sequence("AAAATTTG")])
    np.testing.assert_allclose(gc_content(codes), [4 / 6, 0.0, 1 / 8])
    assert gc_content(encode_sequence("GC")) == 1.0
