from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = 3

@test_case(points=0, hidden=False)
def test_q4_small_example_by_hand(iou_per_class, dice_per_class, mean_iou):
    import math
    import torch
    target = torch.tensor([[0, 0, 1, 1]])
    pred = torch.tensor([[0, 1, 1, 1]])
    assert torch.allclose(iou_per_class(pred, target, 2).double(), torch.tensor([1 / 2, 2 / 3], dtype=torch.float64))
    assert torch.allclose(dice_per_class(pred, target, 2).double(), torch.tensor([2 / 3, 4 / 5], dtype=torch.float64))
    assert math.isclose(mean_iou(pred, target, 2), (1 / 2 + 2 / 3) / 2)

