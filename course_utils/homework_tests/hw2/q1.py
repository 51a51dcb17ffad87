from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 2

@test_case(points=0, hidden=False)
def test_q1_train_loader_is_a_shuffled_dataloader_with_batch_size_8(train_loader):
    from torch.utils.data import DataLoader, RandomSampler
    assert isinstance(train_loader, DataLoader), f'train_loader must be a DataLoader, got {type(train_loader)}'
    assert train_loader.batch_size == 8, f'the batch size must be 8, got {train_loader.batch_size}'
    assert isinstance(train_loader.sampler, RandomSampler), 'the loader does not shuffle: pass shuffle=True'

