from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 3

@test_case(points=0, hidden=False)
def test_q3_optimizer_is_adam_with_learning_rate_0_001_on_the_model(optimizer, model):
    import torch
    assert isinstance(optimizer, torch.optim.Adam), f'expected torch.optim.Adam, got {type(optimizer).__name__}'
    lr = optimizer.param_groups[0].get('initial_lr', optimizer.param_groups[0]['lr'])
    assert lr == 0.001, f'learning rate must be 0.001, got {lr}'
    optimized = {id(p) for group in optimizer.param_groups for p in group['params']}
    assert optimized == {id(p) for p in model.parameters()}, 'the optimizer must update all parameters of `model`'

