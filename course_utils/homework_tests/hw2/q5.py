from otter.test_files import test_case

OK_FORMAT = False

name = "q5"
points = 3

@test_case(points=0, hidden=False)
def test_q5_test_mean_iou_is_a_number_between_0_and_1(test_mean_iou):
    assert isinstance(test_mean_iou, float), f'test_mean_iou must be a Python float, got {type(test_mean_iou)}'
    assert 0.0 <= test_mean_iou <= 1.0

