"""Confident detections the labels miss are left out of the loss (model/label_audit.py)."""
import numpy as np

from model.data import TrainingExample
from model.label_audit import mask_unlabelled_detections, unlabelled_detections


def _scene():
    prob = np.zeros((60, 60), np.float32)
    prob[5:15, 5:15] = 0.95  # a labelled roof
    prob[30:45, 30:45] = 0.97  # a roof the labels miss
    prob[50:53, 5:8] = 0.99  # a speck: under the minimum area
    prob[5:15, 40:50] = 0.6  # not confident
    instances = np.zeros((60, 60), np.int32)
    instances[6:14, 6:14] = 1
    return prob, instances


def test_only_confident_large_unlabelled_regions_are_masked_with_a_margin():
    prob, instances = _scene()
    mask, n = unlabelled_detections(prob, instances, np.ones_like(instances, bool), gsd_m=0.5, min_area_m2=40,
                                    margin_px=2)
    assert n == 1
    assert mask[28:47, 28:47].all() and mask.sum() == 19 * 19  # the missed roof, 2 px wider on each side
    assert not mask[instances > 0].any() and not mask[50:53, 5:8].any() and not mask[5:15, 40:50].any()


class _FixedPredictor:
    """Stands in for a network's output only: the audit's own logic is what is tested here."""

    def __init__(self, prob):
        self.prob = prob

    def predict_image(self, image, valid=None, tta=1):
        return {"prob": self.prob.copy()}


def test_examples_keep_their_labels_and_unlabelled_tiles_stay_whole():
    prob, instances = _scene()
    image = np.zeros((60, 60, 3), np.float32)
    labelled = TrainingExample(image, instances, np.ones((60, 60), bool), "place/a")
    empty = TrainingExample(image, np.zeros_like(instances), np.ones((60, 60), bool), "place/b")
    audited, counts = mask_unlabelled_detections([labelled, empty], _FixedPredictor(prob), gsd_m=0.5)
    assert audited[1] is empty  # a tile without labels (e.g. reviewed as holding no buildings) is not audited
    assert not audited[0].valid[35, 35] and audited[0].valid[10, 10] and labelled.valid.all()
    assert [(c.ref, c.detections) for c in counts] == [("place/a", 1)]
