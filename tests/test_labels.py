"""Labels for every task type from every format; labels that do not fit task.type say what the file holds."""

from __future__ import annotations

import json
import re

import joblib
import numpy as np
import pytest

from seqsweep.data import load, write_shards
from seqsweep.data.encoding import Length
from seqsweep.data.labels import LabelSpec
from seqsweep.errors import DataError
from seqsweep.tasks import Task

ML = LabelSpec("multilabel")
MC = LabelSpec("multiclass")


def _csv(tmp_path, text: str, name: str = "x.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_multilabel_csv_label_columns_missing_cells_and_weights(tmp_path):
    p = _csv(tmp_path, "sequence,label_CTCF,label_JUND\nACGT,1,0\nACGA,0,\nTTTT,,1\nGGGG,0,1\n")
    ds = load(p, task=ML)
    assert ds.task == Task("multilabel", ("CTCF", "JUND"))
    assert ds.y.tolist() == [[1, 0], [0, 0], [0, 1], [0, 1]]
    w = ds.w
    assert w[1, 1] == 0 and w[2, 0] == 0  # missing labels weigh nothing
    # per task, over measured rows, each class carries half the weight
    for t in range(2):
        m = w[:, t] > 0
        assert w[m & (ds.y[:, t] == 1), t].sum() == pytest.approx(w[m, t].sum() / 2)


def test_multilabel_task_labels_pick_columns_and_a_row_weight_applies_to_each_task(tmp_path):
    p = _csv(tmp_path, "sequence,a,b,c,weight\nACGT,1,0,1,2\nACGA,0,1,0,1\nACCA,1,1,0,1\n")
    ds = load(p, task=LabelSpec("multilabel", columns=("a", "c")))
    assert ds.task.names == ("a", "c") and ds.y.tolist() == [[1, 1], [0, 0], [1, 0]]
    assert ds.w.tolist() == [[2, 2], [1, 1], [1, 1]]
    with pytest.raises(DataError, match="task.labels names column 'd', which is not in the file"):
        load(p, task=LabelSpec("multilabel", columns=("a", "d")))


def test_multilabel_shards_keep_every_task_named_by_tasks_json(tmp_path):
    d = tmp_path / "shards"
    d.mkdir()
    X = np.eye(4, dtype=np.uint8)[np.random.default_rng(0).integers(0, 4, (6, 8))]
    y = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1], [1, 0, 0], [0, 1, 1]])
    w = np.ones((6, 3))
    w[2, 1] = 0.0  # DeepChem's missing label
    for part, arr in (("X", X), ("y", y), ("w", w)):
        joblib.dump(arr, d / f"shard-0-{part}.joblib")
    (d / "tasks.json").write_text(json.dumps(["CTCF", "JUND", "GATA1"]))
    ds = load(d, task=ML)
    assert ds.task.names == ("CTCF", "JUND", "GATA1") and ds.y.shape == (6, 3) and ds.w[2, 1] == 0
    # binary on the same shards: the file holds 3 tasks, and the error says so
    with pytest.raises(DataError, match=r"holds 3 label columns \(CTCF, JUND, GATA1\): set task.type: multilabel"):
        load(d)
    # round trip through write_shards
    again = load(write_shards(ds, tmp_path / "again"), task=ML)
    assert again.task == ds.task and np.array_equal(again.y, ds.y) and np.array_equal(again.w, ds.w)


@pytest.mark.parametrize(
    "labels, classes, expected",
    [
        (["promoter", "enhancer", "background", "enhancer"], ("background", "enhancer", "promoter"), [2, 1, 0, 1]),
        (["3", "1", "10", "1"], ("1", "3", "10"), [1, 0, 2, 0]),  # integers in numeric order
    ],
)
def test_multiclass_class_names_or_ids(tmp_path, labels, classes, expected):
    text = "sequence,label\n" + "".join(f"ACGT,{c}\n" for c in labels)
    ds = load(_csv(tmp_path, text), task=MC)
    assert ds.task == Task("multiclass", classes) and ds.y.tolist() == expected
    assert ds.w.dtype == np.float32 and ds.w[ds.y == expected[1]].sum() == pytest.approx(len(labels) / 3)


def test_multiclass_one_hot_label_columns_collapse_to_class_names(tmp_path):
    p = _csv(tmp_path, "sequence,label_promoter,label_enhancer\nACGT,1,0\nACGA,0,1\nACCA,0,1\n")
    ds = load(p, task=MC)
    assert ds.task.names == ("promoter", "enhancer") and ds.y.tolist() == [0, 1, 1]
    bad = _csv(tmp_path, "sequence,label_a,label_b\nACGT,1,1\nACGA,0,1\n", "bad.csv")
    with pytest.raises(DataError, match=r"row 0: 2 label columns \(a, b\) with 2 ones in this row: .*set task.type: multilabel"):
        load(bad, task=MC)


def test_multiclass_order_from_task_classes_and_an_unknown_class_names_row_and_classes(tmp_path):
    p = _csv(tmp_path, "sequence,label\nACGT,b\nACGA,a\nACCA,c\n")
    ds = load(p, task=LabelSpec("multiclass", classes=("c", "b", "a")))
    assert ds.y.tolist() == [1, 2, 0]
    msg = "x.csv: row 2: class 'c' is not one of the classes of the training data (a, b)"
    with pytest.raises(DataError, match=re.escape(msg)):
        load(p, task=LabelSpec("multiclass", classes=("a", "b"), classes_from="the training data"))


@pytest.mark.parametrize(
    "text, spec, message",
    [
        ("sequence,label\nACGT,0\nACGA,2\nACGC,1\n", LabelSpec(), r"row 1: label must be 0 or 1, got 2 \(the labels hold 3 values: 0, 2, 1; set task.type: multiclass\)"),
        ("sequence,label\nACGT,enhancer\nACGA,promoter\n", LabelSpec(), r"row 0: label must be 0 or 1, got 'enhancer' \(the labels are class names: enhancer, promoter; set task.type: multiclass\)"),
        ("sequence,label_a,label_b\nACGT,0,1\nACGA,1,0\n", LabelSpec(), r"holds 2 label columns \(label_a, label_b\): set task.type: multilabel"),
        ("sequence,label\nACGT,0\nACGA,1\n", ML, r"task.type multilabel needs one label_<task> column per task .*one 'label' column"),
        ("sequence,label_a,label_b\nACGT,0,3\nACGA,1,0\n", ML, r"row 0: task 'b': a multilabel label must be 0, 1 or empty \(missing\), got '3'"),
        ("sequence,label\nACGT,x\nACGA,\n", MC, r"row 1: label is missing: every sequence needs its class"),
        ("sequence,label\nACGT,id\nACGA,b\n", MC, r"class name 'id' is reserved"),
    ],
)
def test_labels_that_do_not_fit_the_task_say_what_the_file_holds(tmp_path, text, spec, message):
    with pytest.raises(DataError, match=message) as err:
        load(_csv(tmp_path, text), task=spec)
    assert "\n" not in str(err.value)


def test_fasta_headers_carry_labels_for_every_type(tmp_path):
    fa = tmp_path / "x.fa"
    fa.write_text(">s1 label_a=1 label_b=0\nACGT\n>s2 label_a=0 label_b=1\nACGA\n>s3 label_a=1 label_b=\nACCA\n")
    ds = load(fa, task=ML)
    assert ds.task.names == ("a", "b") and ds.y.tolist() == [[1, 0], [0, 1], [1, 0]] and ds.w[2, 1] == 0
    fa.write_text(">s1 label=promoter\nACGT\n>s2 label=enhancer\nACGA\n")
    assert load(fa, task=MC).task.names == ("enhancer", "promoter")
    fa.write_text(">s1\nACGT\n>s2\nACGA\n")
    labels = _csv(tmp_path, "id,label_a,label_b\ns1,1,0\ns2,0,1\n", "labels.csv")
    assert load(fa, labels=labels, task=ML).y.tolist() == [[1, 0], [0, 1]]


def test_ragged_sequences_need_data_length_and_get_padded_and_trimmed(tmp_path):
    p = _csv(tmp_path, "sequence,label\nACGTACGT,1\nACG,0\nACGTACGTACGTAA,0\n")
    with pytest.raises(DataError, match=r"row 1: sequence has length 3 but row 0 has length 8.*set data.length"):
        load(p)
    ds = load(p, length=Length(to=10, pad="left", trim="left"))
    assert ds.seq_len == 10 and ds.spans.tolist() == [[2, 10], [7, 10], [0, 10]]
    assert ds.lengths().tolist() == [8, 3, 10]
    from seqsweep.data import decode

    assert decode(ds.X) == ["NNACGTACGT", "NNNNNNNACG", "ACGTACGTAA"]  # trim 'left' keeps the end
