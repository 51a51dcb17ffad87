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

@test_case(points=0, hidden=False)
def test_q3_train_one_epoch_takes_one_correct_step_per_batch(train_one_epoch):
    import math
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    def start():
        net = nn.Conv2d(1, 3, kernel_size=1)
        with torch.no_grad():
            net.weight.copy_(torch.tensor([0.5, -0.3, 0.1]).view(3, 1, 1, 1))
            net.bias.copy_(torch.tensor([0.1, 0.0, -0.1]))
        return (net, torch.optim.SGD(net.parameters(), lr=0.5))
    with torch.random.fork_rng(devices=[]):
        images = torch.linspace(0, 1, 8 * 4 * 4).view(8, 1, 4, 4)
        masks = torch.arange(8 * 4 * 4).view(8, 4, 4) * 7 % 3
        loader = DataLoader(TensorDataset(images, masks), batch_size=4, shuffle=False)
        net, optimizer = start()
        initial = net.weight.detach().clone()
        returned = train_one_epoch(net, loader, optimizer, nn.CrossEntropyLoss(), torch.device('cpu'))
        right, right_optimizer = start()
        losses = []
        for x, y in loader:
            loss = nn.functional.cross_entropy(right(x), y)
            right_optimizer.zero_grad()
            loss.backward()
            right_optimizer.step()
            losses.append(loss.item())
    mean_loss = sum(losses) / len(losses)
    assert not torch.equal(net.weight, initial), 'the weights never changed: call loss.backward() and then optimizer.step() for every batch'
    assert torch.allclose(net.weight, right.weight, atol=1e-06) and torch.allclose(net.bias, right.bias, atol=1e-06), 'after two batches the weights differ from two correct steps: for each batch compute the loss with the arguments model and loss_fn, call loss.backward() and optimizer.step(), and zero the gradients (optimizer.zero_grad()) so that they do not add up over the batches'
    assert math.isclose(float(returned), mean_loss, rel_tol=1e-05), f'train_one_epoch returned {float(returned):.4f}, expected the mean loss per example, {mean_loss:.4f}'

