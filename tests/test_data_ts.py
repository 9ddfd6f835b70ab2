"""Reading labelled sequences: the sktime/aeon .ts format, the UCR CSV layout, missing values."""

import numpy as np
import pytest

from minirnn.apps.data import fill_missing, load_csv_sequences, load_ts, load_ts_header

MULTI = """# a comment
% another comment style (seen in aeon's own files)
@problemName Toy
@timeStamps false
@missing false
@univariate false
@dimensions 2
@equalLength false
@classLabel true walk run
@data
1,2,3:4,5,6:run
7,8:9,10:walk
# a comment between cases
0.5, 1.5 ,2.5,3.5:1,1,1,1:run
"""


def _write(tmp_path, text, name="f.ts"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_multivariate_unequal_lengths(tmp_path):
    x, lengths, y, classes = load_ts(_write(tmp_path, MULTI))
    assert x.shape == (3, 4, 2) and x.dtype == np.float64
    assert lengths.tolist() == [3, 2, 4] and classes == ["walk", "run"]
    assert y.tolist() == [1, 0, 1]
    np.testing.assert_array_equal(x[0], [[1, 4], [2, 5], [3, 6], [0, 0]])
    np.testing.assert_array_equal(x[1, :2], [[7, 9], [8, 10]])
    np.testing.assert_array_equal(x[2, :, 0], [0.5, 1.5, 2.5, 3.5])
    assert load_ts_header(tmp_path / "f.ts")["problemname"] == "Toy"


def test_univariate_numeric_labels_and_missing(tmp_path):
    text = ("@problemName U\n@univariate true\n@equalLength true\n@seriesLength 3\n"
            "@missing true\n@classLabel true 1 2 10\n@DATA\n1,?,3:10\n4,5,NaN:1\n")
    x, lengths, y, classes = load_ts(_write(tmp_path, text))
    assert x.shape == (2, 3, 1) and classes == ["1", "2", "10"] and y.tolist() == [2, 0]
    assert np.isnan(x[0, 1, 0]) and np.isnan(x[1, 2, 0])
    filled, new_lengths, count = fill_missing(x, lengths)
    assert count == 1 and new_lengths.tolist() == [3, 2]  # trailing gap becomes padding
    np.testing.assert_array_equal(filled[:, :, 0], [[1, 2, 3], [4, 5, 0]])


def test_labels_without_declared_list_and_given_classes(tmp_path):
    text = "@classLabel true\n@data\n1,2:b\n3,4:a\n"
    _, _, y, classes = load_ts(_write(tmp_path, text))
    assert classes == ["a", "b"] and y.tolist() == [1, 0]
    _, _, y, classes = load_ts(_write(tmp_path, text), classes=["b", "a"])
    assert classes == ["b", "a"] and y.tolist() == [0, 1]
    with pytest.raises(ValueError, match=r"line 4: label 'a' is not one of the training"):
        load_ts(_write(tmp_path, text), classes=["b", "c"])


def test_unlabelled_file(tmp_path):
    _, lengths, y, classes = load_ts(_write(tmp_path, "@classLabel false\n@data\n1,2\n3\n"))
    assert y is None and classes == [] and lengths.tolist() == [2, 1]


HEADER = "@problemName T\n@univariate false\n@dimensions 2\n@classLabel true a b\n@data\n"


@pytest.mark.parametrize(("body", "message"), [
    ("1,2:3,4:a\n1,2:b\n", r"line 7: 1 dimensions, but the header says 2"),
    ("1,2:3,4:c\n", r"line 6: label 'c' is not one of the labels declared"),
    ("1,x:3,4:a\n", r"line 6: dimension 1, step 2: cannot read 'x' as a number"),
    ("1,2:3:a\n", r"line 6: the dimensions of one case must have the same length"),
    ("1,?:3,4:a\n", r"line 6: missing value '\?' at dimension 1, step 2, but the header "
                    r"declares @missing false"),
    ("1,inf:3,4:a\n", r"line 6: dimension 1, step 2: 'inf' is not a finite number"),
    ("(2000-01-01,1):(2000-01-01,2):a\n", r"line 6: timestamps"),
    ("", r"no cases after @data"),
    ("1,2:3,4\n", r"line 6: 1 dimensions, but the header says 2 \(is the label missing\?\)"),
])
def test_bad_files_name_the_line(tmp_path, body, message):
    header = HEADER.replace("@data", "@missing false\n@data") if "?" in body else HEADER
    if "?" in body:
        message = message.replace("line 6", "line 7")
    with pytest.raises(ValueError, match=message):
        load_ts(_write(tmp_path, header + body))


@pytest.mark.parametrize(("text", "message"), [
    ("", "the file is empty"),
    ("# only a comment\n@problemName x\n", "no @data line"),
    ("@timeStamps true\n@data\n1,2:a\n", "@timeStamps true is not supported"),
    ("@targetLabel true\n@data\n1,2:0.5\n", "regression file"),
    ("@missing maybe\n@data\n", r"line 1: @missing takes true or false"),
    ("@dimensions two\n@data\n", r"line 1: @dimensions takes a positive integer"),
    ("hello\n@data\n", r"line 1: expected a header tag"),
    ("@data now\n", r"line 1: @data takes no value"),
    ("@equalLength true\n@classLabel true a\n@data\n1,2:a\n1:a\n", r"line 5: 1 steps, but the "
                                                                  r"header declares"),
    ("@seriesLength 3\n@classLabel true a\n@data\n1,2:a\n", r"line 4: 2 steps, but "
                                                            r"@seriesLength is 3"),
    ("@univariate true\n@classLabel true a\n@data\n1,2:3,4:a\n", r"line 4: 2 dimensions"),
])
def test_bad_headers(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        load_ts(_write(tmp_path, text))


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_ts(tmp_path / "nope.ts")
    with pytest.raises(ValueError, match="is a folder"):
        load_ts(tmp_path)
    (tmp_path / "bin.ts").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ValueError, match="not a UTF-8 text file"):
        load_ts(tmp_path / "bin.ts")


def test_csv_rows_with_label_column(tmp_path):
    path = _write(tmp_path, "label,t1,t2,t3\nA,1,2,3\nB,4,5,\nA,7,?,9\n", "s.csv")
    x, lengths, y, classes = load_csv_sequences(path, label_column="label")
    assert x.shape == (3, 3, 1) and lengths.tolist() == [3, 2, 3]
    assert classes == ["A", "B"] and y.tolist() == [0, 1, 0] and np.isnan(x[2, 1, 0])
    tsv = _write(tmp_path, "2\t1.0\t2.0\n1\t3.0\t4.0\n10\t5\t6\n", "s.tsv")  # UCR layout
    x, lengths, y, classes = load_csv_sequences(tsv)
    assert classes == ["1", "2", "10"] and y.tolist() == [1, 0, 2] and x[2, 1, 0] == 6
    last = _write(tmp_path, "1,2,yes\n3,4,no\n", "l.csv")
    _, _, y, classes = load_csv_sequences(last, label_column=-1)
    assert classes == ["no", "yes"] and y.tolist() == [1, 0]
    with pytest.raises(ValueError, match=r"line 2: cannot read|line 2: dimension 1, step 2"):
        load_csv_sequences(_write(tmp_path, "a,1,2\nb,1,x\n", "bad.csv"))
    with pytest.raises(ValueError, match="label column 'y' not found"):
        load_csv_sequences(path, label_column="y")


def test_every_csv_reader_names_columns_by_one_rule(tmp_path):
    """Spaces around a header name do not matter, case does, and a name twice is an error:
    the same for the sequence, series and table readers."""
    from minirnn.apps.data import load_csv_column
    from minirnn.apps.data.table import load_table

    spaced = _write(tmp_path, " label , v1,v2\nA,1,2\nB,3,4\n", "spaced.csv")
    assert load_csv_sequences(spaced, label_column="label").classes == ["A", "B"]
    assert load_csv_column(spaced, " v1 ").tolist() == [1.0, 3.0]
    assert load_table(spaced, "v2", date_column=None).values.tolist() == [2.0, 4.0]
    twice = _write(tmp_path, "x,x,v\n1,2,3\n4,5,6\n", "twice.csv")
    for read in (lambda: load_csv_sequences(twice, label_column="x"),
                 lambda: load_csv_column(twice, "x"),
                 lambda: load_table(twice, "x", date_column=None)):
        with pytest.raises(ValueError, match="'x' appears 2 times"):
            read()
    with pytest.raises(ValueError, match="'V1' not found"):
        load_csv_column(spaced, "V1")


def test_fill_missing_rejects_an_empty_sequence():
    x = np.full((1, 3, 1), np.nan)
    with pytest.raises(ValueError, match="sequence 0 has no values"):
        fill_missing(x, np.array([3]))


def test_shipped_basic_motions():
    from minirnn.apps.classification import example_path

    train = load_ts(example_path("BasicMotions", "TRAIN"))
    test = load_ts(example_path("BasicMotions", "TEST"), classes=train.classes)
    assert train.x.shape == (40, 100, 6) == test.x.shape
    assert train.classes == ["Standing", "Running", "Walking", "Badminton"]
    assert np.bincount(train.y).tolist() == [10] * 4 and not np.isnan(train.x).any()
    with pytest.raises(ValueError, match="no shipped data set"):
        example_path("Nope")
