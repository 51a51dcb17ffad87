from otter.test_files import test_case

OK_FORMAT = False

name = "q5"
points = 3

@test_case(points=0, hidden=False)
def test_q5_test_pred_and_test_mean_iou_come_from_the_trained_model(test_pred, test_mean_iou, test_data, mean_iou):
    import math
    import torch
    assert isinstance(test_pred, torch.Tensor), f'test_pred must be a tensor, got {type(test_pred).__name__}'
    assert tuple(test_pred.shape) == tuple(test_data.masks.shape), f'test_pred has shape {tuple(test_pred.shape)}, expected {tuple(test_data.masks.shape)}: one class per pixel'
    assert not test_pred.is_floating_point(), 'test_pred holds classes: the argmax over the class dimension (dim=1)'
    assert test_pred.device.type == 'cpu', 'test_pred must be on the CPU (.cpu()): the figures below use it'
    value = float(test_mean_iou)
    assert 0.0 <= value <= 1.0, f'test_mean_iou is {value}, but a mean IoU lies between 0 and 1'
    expected = float(mean_iou(test_pred, test_data.masks, 4))
    assert math.isclose(value, expected, abs_tol=1e-06), f'test_mean_iou is {value:.4f}, but mean_iou(test_pred, test_data.masks, 4) is {expected:.4f}'

