"""Tests for seqatac.data.parse_regions (coordinates from var columns or peak names)."""

import numpy as np
import pandas as pd
import pytest
from seqatac import SeqatacInputError
from seqatac.data import parse_regions


def test_columns_are_matched_case_insensitively_and_cast_to_int64():
    var = pd.DataFrame(
        {
            "SeqNames": pd.Categorical(["chr2", "chr1"]),
            "Start": [10.0, 0.0],  # integral floats are fine
            "END": np.array([20, 5], dtype=np.int32),
            "score": [1, 2],
        },
        index=["peak_a", "peak_b"],
    )
    regions = parse_regions(var)
    assert list(regions.columns) == ["chrom", "start", "end"]
    assert list(regions.index) == ["peak_a", "peak_b"]
    assert regions["chrom"].tolist() == ["chr2", "chr1"]
    assert regions["start"].tolist() == [10, 0] and regions["end"].tolist() == [20, 5]
    assert regions["start"].dtype == np.int64 and regions["end"].dtype == np.int64
    assert regions["chrom"].dtype == object and isinstance(regions["chrom"].iloc[0], str)


def test_columns_take_precedence_over_names():
    var = pd.DataFrame({"chr": ["chr3"], "start": [7], "end": [9]}, index=["chr1:100-200"])
    assert parse_regions(var).iloc[0].tolist() == ["chr3", 7, 9]


@pytest.mark.parametrize(
    "name, expected",
    [
        ("chr1:100-200", ("chr1", 100, 200)),
        ("chr1-100-200", ("chr1", 100, 200)),
        ("chr1_100_200", ("chr1", 100, 200)),
        ("chrUn_gl000220:1-5", ("chrUn_gl000220", 1, 5)),
        ("chrUn_gl000220-1-5", ("chrUn_gl000220", 1, 5)),
        ("chr1_KI270706v1_random:10-20", ("chr1_KI270706v1_random", 10, 20)),
        ("GL000220.1:3-4", ("GL000220.1", 3, 4)),
    ],
)
def test_names_are_parsed_from_the_right(name, expected):
    regions = parse_regions([name])
    assert tuple(regions.iloc[0]) == expected
    assert regions.index[0] == name


def test_index_and_dataframe_without_columns_use_names():
    names = pd.Index(["chr1:0-10", "chrX-5-7"])
    from_index = parse_regions(names)
    from_var = parse_regions(pd.DataFrame({"other": [1, 2]}, index=names))
    pd.testing.assert_frame_equal(from_index, from_var)
    assert from_index["start"].tolist() == [0, 5] and from_index["end"].tolist() == [10, 7]


def test_no_coordinates_error_names_the_fix():
    with pytest.raises(SeqatacInputError) as error:
        parse_regions(pd.DataFrame(index=["0", "1", "2"]))
    message = str(error.value)
    assert "No peak coordinates" in message and "'0'" in message
    assert "chrom" in message and "chr1:100-200" in message


def test_partial_columns_are_reported():
    var = pd.DataFrame({"chrom": ["chr1"]}, index=["p1"])
    with pytest.raises(SeqatacInputError, match=r"no column for \['start', 'end'\]"):
        parse_regions(var)


def test_unparsable_names_error_counts_and_examples():
    with pytest.raises(SeqatacInputError) as error:
        parse_regions(["chr1:1-5", "weird_peak", "chr2:1-2", "chr1:1.5-3"])
    message = str(error.value)
    assert "2 of 4 peaks" in message and "cannot be parsed" in message
    assert "'weird_peak'" in message and "'chr1:1.5-3'" in message
    assert "rename them" in message


def test_end_not_after_start_error():
    with pytest.raises(SeqatacInputError) as error:
        parse_regions(["chr1:1-5", "chr1:50-50", "chr1:90-80"])
    message = str(error.value)
    assert "2 of 3 peaks have end <= start" in message
    assert "'chr1:90-80'" in message and "swapped" in message


def test_negative_coordinates_error():
    var = pd.DataFrame({"chrom": ["chr1", "chr1"], "start": [-10, 0], "end": [5, 5]}, index=["a", "b"])
    with pytest.raises(SeqatacInputError) as error:
        parse_regions(var)
    message = str(error.value)
    assert "1 of 2 peaks have negative coordinates" in message and "'a' (chr1:-10-5)" in message
    assert "0-based" in message


@pytest.mark.parametrize("values", [[1.5, 2.0], ["10", "abc"], [np.nan, 2.0]])
def test_non_integer_coordinates_error(values):
    var = pd.DataFrame(
        {"chrom": ["chr1", "chr1"], "start": values, "end": [100, 100]}, index=["a", "b"]
    )
    with pytest.raises(SeqatacInputError) as error:
        parse_regions(var)
    message = str(error.value)
    assert "1 of 2 peaks have a non-integer or missing var['start']" in message
    assert "whole numbers" in message


def test_duplicated_peaks_from_names_error():
    with pytest.raises(SeqatacInputError) as error:
        parse_regions(["chr1:1-5", "chr1-1-5", "chr1:5-9", "chr1:5-9", "chr2:1-5"])
    message = str(error.value)
    assert "4 of 5 peaks are duplicated (2 interval(s)" in message
    assert "deduplicate" in message and "merge" in message


def test_duplicated_peaks_from_columns_suggest_their_columns():
    var = pd.DataFrame({"Chr": ["chr1", "chr1"], "start": [1, 1], "end": [9, 9]}, index=["a", "b"])
    with pytest.raises(SeqatacInputError, match=r"duplicated\(subset=\['Chr', 'start', 'end'\]\)"):
        parse_regions(var)


def test_missing_chromosome_error():
    var = pd.DataFrame({"chrom": ["chr1", None], "start": [1, 2], "end": [9, 9]}, index=["a", "b"])
    with pytest.raises(SeqatacInputError, match="1 of 2 peaks have no chromosome name"):
        parse_regions(var)
