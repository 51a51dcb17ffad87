from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = 3

@test_case(points=0, hidden=False)
def test_q4_small_example_by_hand(iou_per_class, dice_per_class, mean_iou):
    import math
    import torch

    def per_class(function, pred, target, num_classes):
        values = function(pred, target, num_classes)
        assert values is not None, f'{function.__name__} returned None: return a float tensor, one value per class'
        values = torch.as_tensor(values, dtype=torch.float64)
        assert values.shape == (num_classes,), f'{function.__name__} must return {num_classes} values (one per class), got shape {tuple(values.shape)}'
        return values
    target = torch.tensor([[0, 0, 1, 1]])
    pred = torch.tensor([[0, 1, 1, 1]])
    iou = per_class(iou_per_class, pred, target, 2)
    assert torch.allclose(iou, torch.tensor([1 / 2, 2 / 3], dtype=torch.float64)), f'IoU per class {iou.tolist()}, expected [0.5, 0.6667]'
    dice = per_class(dice_per_class, pred, target, 2)
    assert torch.allclose(dice, torch.tensor([2 / 3, 4 / 5], dtype=torch.float64)), f'Dice per class {dice.tolist()}, expected [0.6667, 0.8]'
    value = mean_iou(pred, target, 2)
    assert isinstance(value, float), f'mean_iou must return a Python float (use .item()), got {type(value).__name__}'
    assert math.isclose(value, (1 / 2 + 2 / 3) / 2, rel_tol=1e-05), f'mean_iou gives {value}, expected 0.5833'

@test_case(points=0, hidden=False)
def test_q4_a_class_in_neither_map_is_nan_and_left_out_of_the_mean(iou_per_class, dice_per_class, mean_iou):
    import math
    import torch
    target = torch.tensor([[0, 0, 2, 2]])
    pred = torch.tensor([[0, 2, 2, 2]])
    for function, expected in ((iou_per_class, [1 / 2, 2 / 3]), (dice_per_class, [2 / 3, 4 / 5])):
        values = function(pred, target, 3)
        assert values is not None, f'{function.__name__} returned None: return a float tensor, one value per class'
        values = torch.as_tensor(values, dtype=torch.float64)
        assert values.shape == (3,), f'{function.__name__}(pred, target, 3) must return 3 values (one per class), got shape {tuple(values.shape)}: use num_classes, not a fixed 4'
        assert math.isnan(values[1]), f"class 1 is in neither pred nor target, so {function.__name__} is undefined for it: return float('nan') there, got {values[1].item()}"
        assert torch.allclose(values[[0, 2]], torch.tensor(expected, dtype=torch.float64)), f'{function.__name__} gives {values.tolist()}, expected [{expected[0]:.4f}, nan, {expected[1]:.4f}]'
    value = mean_iou(pred, target, 3)
    assert not math.isnan(value), 'mean_iou is NaN: average only the classes whose IoU is not NaN (torch.nanmean)'
    assert math.isclose(value, (1 / 2 + 2 / 3) / 2, rel_tol=1e-05), f'mean_iou gives {value:.4f}, expected 0.5833, the mean over the classes that occur (skip the NaN class)'

