"""Each claim of lecture 06 "Variational autoencoders", checked on the notebook's own code (cells tagged 'export')
and on the checkpoints it commits in assets/."""

import functools

import pytest
import torch
import torch.nn.functional as F
from notebook_code import load_exported

import course_utils as cu
from course_utils.generative import find_asset, judge_features, judge_report, load_checkpoint

nb = load_exported("06_variational_autoencoders")

CHECKPOINTS = {  # file -> (class, latent_dim)
    "06_ae_z16.pt": ("Autoencoder", 16),
    "06_ae_l2_z16.pt": ("Autoencoder", 16),
    "06_vae_z16.pt": ("VAE", 16),
    "06_ae_z2.pt": ("Autoencoder", 2),
    "06_vae_z2_beta0.1.pt": ("VAE", 2),
    "06_vae_z2_beta0.5.pt": ("VAE", 2),
    "06_vae_z2_beta1.pt": ("VAE", 2),
    "06_vae_z2_beta4.pt": ("VAE", 2),
}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def test_images():
    return cu.load_mnist("test", verbose=False).images


def _load(name):
    cls, latent_dim = CHECKPOINTS[name]
    model = getattr(nb, cls)(latent_dim)
    checkpoint = load_checkpoint(name, model)
    assert checkpoint is not None, f"assets/{name} is missing"
    return model.eval(), checkpoint


# 2. reparameterisation and the KL ---------------------------------------------------------------------------


def test_reparameterisation_gives_mean_mu_and_variance_sigma_squared():
    mu = torch.tensor([0.5, -3.0, 2.0])
    var = torch.tensor([0.1, 9.0, 1.0])
    z = nb.reparameterize(mu.expand(400_000, 3), var.log().expand(400_000, 3))
    torch.testing.assert_close(z.mean(0), mu, atol=0.02, rtol=0)
    torch.testing.assert_close(z.var(0), var, rtol=0.02, atol=0)


def test_reparameterisation_is_differentiable_in_mu_and_logvar():
    mu = torch.zeros(1000, 2, requires_grad=True)
    logvar = torch.zeros(1000, 2, requires_grad=True)
    z = nb.reparameterize(mu, logvar)
    z.sum().backward()
    assert torch.equal(mu.grad, torch.ones_like(mu))  # dz/dmu = 1
    eps = z.detach()  # with mu = 0 and sigma = 1, z is eps
    torch.testing.assert_close(logvar.grad, 0.5 * eps)  # dz/dlogvar = 0.5 * sigma * eps


def test_kl_matches_torch_distributions_on_known_gaussians():
    mu = torch.tensor([[0.0, 1.0, -2.0], [0.3, 0.0, 0.0]])
    sigma = torch.tensor([[1.0, 1.0, 0.5], [2.0, 0.1, 1.0]])
    q = torch.distributions.Normal(mu, sigma)
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    expected = torch.distributions.kl_divergence(q, p).sum(1)
    torch.testing.assert_close(nb.kl_to_standard_normal(mu, 2 * sigma.log()), expected)
    # and by hand: KL(N(1, 1) || N(0, 1)) = 1/2
    assert nb.kl_to_standard_normal(torch.tensor([[1.0]]), torch.tensor([[0.0]])).item() == pytest.approx(0.5)


def test_kl_is_zero_for_the_prior_and_positive_otherwise():
    assert nb.kl_to_standard_normal(torch.zeros(3, 4), torch.zeros(3, 4)).abs().max() == 0
    assert (nb.kl_to_standard_normal(torch.randn(100, 4), torch.randn(100, 4)) > 0).all()


def test_bernoulli_nll_is_the_bce_summed_over_pixels_per_image():
    logits, x = torch.randn(3, 1, 28, 28), torch.rand(3, 1, 28, 28)
    nll = nb.bernoulli_nll(logits, x)
    assert nll.shape == (3,)
    torch.testing.assert_close(nll.sum() / 3, F.binary_cross_entropy(torch.sigmoid(logits), x, reduction="sum") / 3,
                               rtol=1e-4, atol=1e-3)


def test_vae_loss_is_bce_plus_beta_times_kl_and_neg_elbo_ignores_beta(test_images):
    model = nb.VAE(4)
    x = test_images[:16]
    torch.manual_seed(1)
    t1 = nb.vae_terms(model, x, beta=1.0)
    torch.manual_seed(1)
    t4 = nb.vae_terms(model, x, beta=4.0)
    torch.testing.assert_close(t1["loss"], t1["recon"] + t1["kl"])
    torch.testing.assert_close(t4["loss"], t4["recon"] + 4 * t4["kl"])
    torch.testing.assert_close(t4["neg_elbo"], t1["neg_elbo"])


def test_autoencoder_code_penalty_adds_lambda_times_squared_code_norm(test_images):
    model = nb.Autoencoder(8)
    x = test_images[:16]
    plain, penalised = nb.autoencoder_terms(model, x), nb.autoencoder_terms(model, x, code_penalty=0.5)
    torch.testing.assert_close(penalised["loss"], plain["recon"] + 0.5 * plain["code_sq_norm"])


# shapes and checkpoints --------------------------------------------------------------------------------------


def test_encoder_decoder_and_vae_shapes():
    x = torch.rand(5, 1, 28, 28)
    vae = nb.VAE(16)
    logits, mu, logvar = vae(x)
    assert logits.shape == (5, 1, 28, 28) and mu.shape == logvar.shape == (5, 16)
    assert nb.Autoencoder(2)(x)[1].shape == (5, 2)
    assert nb.decode(vae, torch.randn(7, 16)).shape == (7, 1, 28, 28)
    assert nb.decode_grid(nb.VAE(2), n=4).shape == (4 * 28, 4 * 28)


@pytest.mark.parametrize("name", sorted(CHECKPOINTS))
def test_checkpoint_loads_into_the_notebook_architecture_and_is_small(name):
    model, checkpoint = _load(name)
    assert checkpoint["data"] == "offline" and checkpoint["epochs"] >= 20
    assert find_asset(name, download=False).stat().st_size < 1_000_000
    assert {"train_loss", "test_loss", "train_recon", "test_recon"} <= set(checkpoint["history"])


def test_checkpoint_of_another_architecture_is_refused():
    with pytest.raises(RuntimeError):
        load_checkpoint("06_vae_z16.pt", nb.VAE(2))


# claims about the trained models ------------------------------------------------------------------------------


def test_vae_test_neg_elbo_on_the_offline_subset_is_below_120_nats(test_images):
    vae, _ = _load("06_vae_z16.pt")
    terms = nb.evaluate_terms(vae, nb.vae_terms, test_images)
    assert terms["neg_elbo"] < 120
    assert terms["neg_elbo"] == pytest.approx(terms["recon"] + terms["kl"], rel=1e-6)


def test_vae_kl_rises_during_training_while_the_total_falls():
    _, checkpoint = _load("06_vae_z16.pt")
    h = checkpoint["history"]
    assert h["train_kl"][-1] > h["train_kl"][0]
    assert h["train_neg_elbo"][-1] < h["train_neg_elbo"][0]


def test_vae_samples_are_much_closer_to_real_digits_than_random_codes_of_autoencoders(test_images):
    real = judge_features(test_images)
    vae, _ = _load("06_vae_z16.pt")
    z = torch.randn(500, 16)
    vae_report = judge_report(nb.decode(vae, z), real)
    for name in ("06_ae_z16.pt", "06_ae_l2_z16.pt"):
        ae, _ = _load(name)
        ae_report = judge_report(nb.decode(ae, z), real)
        assert vae_report["frechet"] < 0.5 * ae_report["frechet"], name
    assert vae_report["digits_covered"] == 10


def test_vae_codes_fill_the_prior_while_autoencoder_codes_do_not(test_images):
    vae, _ = _load("06_vae_z2_beta1.pt")
    ae, _ = _load("06_ae_z2.pt")
    vae_radius = nb.encode_all(vae, test_images).norm(dim=1)
    ae_radius = nb.encode_all(ae, test_images).norm(dim=1)
    assert (vae_radius < 3).float().mean() > 0.8  # the prior puts 99% of its mass inside |z| < 3
    assert (ae_radius < 3).float().mean() < 0.5


def test_standard_normal_codes_miss_the_scale_of_both_autoencoders():
    ae, _ = _load("06_ae_z16.pt")
    ae_l2, _ = _load("06_ae_l2_z16.pt")
    images = cu.load_mnist("train", verbose=False).images
    assert nb.encode_all(ae, images).std(0).min() > 2  # codes far wider than N(0, I)
    assert nb.encode_all(ae_l2, images).std(0).max() < 0.6  # codes far narrower than N(0, I)


def test_larger_beta_trades_reconstruction_for_a_smaller_kl(test_images):
    kls, recons = [], []
    for beta in (0.1, 0.5, 1, 4):
        model, _ = _load(f"06_vae_z2_beta{beta:g}.pt")
        terms = nb.evaluate_terms(model, functools.partial(nb.vae_terms, beta=beta), test_images)
        kls.append(terms["kl"])
        recons.append(terms["recon"])
    assert kls == sorted(kls, reverse=True)
    assert recons[-1] > recons[0] + 1  # beta = 4 reconstructs worse than beta = 0.1


def test_interpolation_starts_and_ends_at_the_reconstructions(test_images):
    vae, _ = _load("06_vae_z16.pt")
    line = nb.interpolate(vae, test_images[0], test_images[1], steps=6)
    assert line.shape == (6, 1, 28, 28)
    ends = nb.decode(vae, nb.encode_all(vae, test_images[:2]))
    torch.testing.assert_close(line[[0, -1]], ends, atol=1e-5, rtol=0)


def test_training_loop_lowers_the_vae_loss_on_a_small_set(test_images):
    model = nb.VAE(4)
    history = nb.train_model(model, nb.vae_terms, test_images[:256], test_images[256:384], epochs=3)
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert len(history["test_neg_elbo"]) == 3
