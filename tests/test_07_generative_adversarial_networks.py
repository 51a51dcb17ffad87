"""Each claim of lecture 07 "Generative adversarial networks", checked on the notebook's own code (cells tagged
'export') and on the checkpoints it commits in assets/."""

import math

import pytest
import torch
import torch.nn as nn
from notebook_code import load_exported

import course_utils as cu
from course_utils.generative import find_asset, judge_features, judge_report, load_checkpoint

nb = load_exported("07_generative_adversarial_networks")

GAN_CHECKPOINTS = ["07_dcgan.pt", "07_gan_strong_d.pt", "07_gan_bad_lr.pt", "07_gan_fast_g.pt"]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def test_images():
    return cu.load_mnist("test", verbose=False).images


@pytest.fixture(scope="module")
def real_features(test_images):
    return judge_features(test_images)


def _generator(name):
    G = nb.Generator()
    checkpoint = load_checkpoint(name, G)
    assert checkpoint is not None, f"assets/{name} is missing"
    return G.eval(), checkpoint


class ConstantD(nn.Module):
    """A stand-in discriminator that outputs the same logit for every image."""

    def __init__(self, logit):
        super().__init__()
        self.logit = nn.Parameter(torch.tensor(float(logit)))

    def forward(self, x):
        return self.logit.expand(len(x))


# 1-2. the players and their losses ------------------------------------------------------------------------------


def test_generator_maps_noise_to_digits_in_0_1_and_discriminator_to_one_logit_each():
    G, D = nb.Generator(), nb.Discriminator()
    fake = G(torch.randn(6, nb.Z_DIM))
    assert fake.shape == (6, 1, 28, 28) and fake.min() >= 0 and fake.max() <= 1
    assert D(fake).shape == (6,)


def test_discriminator_loss_is_2_log_2_when_it_cannot_tell():
    x = torch.rand(4, 1, 28, 28)
    assert nb.discriminator_loss(ConstantD(0.0), x, x).item() == pytest.approx(2 * math.log(2))


def test_generator_losses_match_their_formulas():
    fake = torch.rand(4, 1, 28, 28)
    for logit in (-3.0, 0.0, 2.0):
        d = torch.sigmoid(torch.tensor(logit)).item()
        assert nb.generator_loss(ConstantD(logit), fake).item() == pytest.approx(-math.log(d), rel=1e-5)
        assert nb.generator_loss(ConstantD(logit), fake, non_saturating=False).item() == pytest.approx(
            math.log(1 - d), rel=1e-5)


def test_non_saturating_loss_gives_a_much_larger_gradient_when_d_rejects_the_fakes():
    fake = torch.rand(4, 1, 28, 28)
    grads = {}
    for ns in (True, False):
        D = ConstantD(-6.0)  # D(G(z)) = 0.0025
        nb.generator_loss(D, fake, non_saturating=ns).backward()
        grads[ns] = D.logit.grad.abs().item()
    assert grads[True] > 100 * grads[False]


# 3. the alternating schedule -------------------------------------------------------------------------------------


def _params(model):
    return [p.detach().clone() for p in model.parameters()]


def test_discriminator_steps_leave_the_generator_alone(test_images):
    G, D = nb.Generator(), nb.Discriminator()
    g_before, d_before = _params(G), _params(D)
    nb.train_gan(G, D, test_images[:128], steps=2, lr_g=0.0, n_snapshots=2)
    assert all(torch.equal(a, b) for a, b in zip(g_before, G.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(d_before, D.parameters()))


def test_generator_steps_leave_the_discriminator_alone(test_images):
    G, D = nb.Generator(), nb.Discriminator()
    g_before, d_before = _params(G), _params(D)
    nb.train_gan(G, D, test_images[:128], steps=2, lr_d=0.0, n_snapshots=2)
    assert all(torch.equal(a, b) for a, b in zip(d_before, D.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(g_before, G.parameters()))


def test_train_gan_logs_every_step_and_takes_fixed_noise_snapshots(test_images):
    history, snapshots, steps = nb.train_gan(nb.Generator(), nb.Discriminator(), test_images[:128], steps=5,
                                             n_snapshots=3)
    assert all(len(v) == 5 for v in history.values())
    assert snapshots.shape == (len(steps), 16, 1, 28, 28) and steps[0] == 1 and steps[-1] == 5


def test_sampling_is_reproducible_for_a_seed():
    G = nb.Generator()
    torch.testing.assert_close(nb.sample(G, 10, seed=4), nb.sample(G, 10, seed=4))


# checkpoints ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", GAN_CHECKPOINTS)
def test_gan_checkpoint_loads_into_the_notebook_generator_and_is_small(name):
    _, checkpoint = _generator(name)
    assert checkpoint["data"] == "offline"
    assert find_asset(name, download=False).stat().st_size < 1_000_000
    assert len(checkpoint["history"]["d_loss"]) == checkpoint["steps"]
    assert checkpoint["snapshots"].dtype == torch.uint8 and checkpoint["snapshots"].shape[1:] == (16, 1, 28, 28)


@pytest.mark.parametrize("name, cls", [("06_ae_z16.pt", "Autoencoder"), ("06_vae_z16.pt", "VAE")])
def test_lecture_06_checkpoints_load_into_the_copies_of_its_classes(name, cls):
    model = getattr(nb, cls)(16)
    assert load_checkpoint(name, model) is not None
    assert nb.sample_decoder(model, 5).shape == (5, 1, 28, 28)


# claims of the comparison table --------------------------------------------------------------------------------------


def test_dcgan_covers_most_digits_and_is_closest_to_real_digits(real_features):
    G, _ = _generator("07_dcgan.pt")
    gan = judge_report(nb.sample(G, 500, seed=3), real_features)
    assert gan["digits_covered"] >= 8
    vae = nb.VAE(16)
    load_checkpoint("06_vae_z16.pt", vae)
    ae = nb.Autoencoder(16)
    load_checkpoint("06_ae_z16.pt", ae)
    vae_fd = judge_report(nb.sample_decoder(vae, 500, seed=3), real_features)["frechet"]
    ae_fd = judge_report(nb.sample_decoder(ae, 500, seed=3), real_features)["frechet"]
    assert gan["frechet"] < vae_fd < ae_fd


def test_too_strong_a_discriminator_with_the_minimax_loss_leaves_the_generator_at_noise(real_features):
    G, checkpoint = _generator("07_gan_strong_d.pt")
    history = checkpoint["history"]
    assert sum(history["d_fake"][-100:]) / 100 < 0.01 and sum(history["d_real"][-100:]) / 100 > 0.99
    healthy, _ = _generator("07_dcgan.pt")
    strong = judge_report(nb.sample(G, 500, seed=3), real_features)
    assert strong["frechet"] > 5 * judge_report(nb.sample(healthy, 500, seed=3), real_features)["frechet"]
    assert strong["digits_covered"] <= 3


def test_pairwise_diversity_is_zero_for_identical_images_and_positive_otherwise():
    same = torch.rand(1, 1, 28, 28).expand(8, 1, 28, 28)
    assert nb.pairwise_diversity(same) == pytest.approx(0.0, abs=1e-4)
    assert nb.pairwise_diversity(torch.rand(8, 1, 28, 28)) > 1


def test_bad_learning_rate_run_shows_a_mode_collapse_episode_in_its_snapshots():
    _, checkpoint = _generator("07_gan_bad_lr.pt")
    diversity = [nb.pairwise_diversity(s.float() / 255) for s in checkpoint["snapshots"]]
    dips = [d < 0.5 * max(diversity[:i]) for i, d in enumerate(diversity) if i > 0]
    assert any(dips) and diversity[-1] > 0.7 * max(diversity)  # collapsed once, then recovered


def test_five_generator_steps_balance_the_game_and_give_the_best_samples(real_features):
    G, checkpoint = _generator("07_gan_fast_g.pt")
    d_real = sum(checkpoint["history"]["d_real"][-500:]) / 500
    d_fake = sum(checkpoint["history"]["d_fake"][-500:]) / 500
    assert abs(d_real - 0.5) < 0.1 and abs(d_fake - 0.5) < 0.1
    healthy, _ = _generator("07_dcgan.pt")
    balanced = judge_report(nb.sample(G, 500, seed=3), real_features)
    assert balanced["digits_covered"] == 10
    assert balanced["frechet"] < judge_report(nb.sample(healthy, 500, seed=3), real_features)["frechet"]


def test_dcgan_rarely_draws_ones_which_the_class_histogram_reveals(real_features):
    G, _ = _generator("07_dcgan.pt")
    counts = judge_report(nb.sample(G, 1000, seed=3), real_features)["histogram"]
    assert counts[1] < 0.05 * counts.sum()
