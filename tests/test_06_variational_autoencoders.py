"""Each claim of lecture 06 "Variational autoencoders", checked on the notebook's own code (cells tagged 'export')
and on the checkpoints it commits in assets/."""

import functools
import math
import re

import pytest
import torch
import torch.nn.functional as F
from notebook_code import load_exported, stored_number, stored_text

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


def test_vae_loss_is_bce_plus_beta_times_kl_and_neg_elbo_ignores_beta(mnist_test_images):
    model = nb.VAE(4)
    x = mnist_test_images[:16]
    torch.manual_seed(1)
    t1 = nb.vae_terms(model, x, beta=1.0)
    torch.manual_seed(1)
    t4 = nb.vae_terms(model, x, beta=4.0)
    torch.testing.assert_close(t1["loss"], t1["recon"] + t1["kl"])
    torch.testing.assert_close(t4["loss"], t4["recon"] + 4 * t4["kl"])
    torch.testing.assert_close(t4["neg_elbo"], t1["neg_elbo"])


def test_autoencoder_code_penalty_adds_lambda_times_squared_code_norm(mnist_test_images):
    model = nb.Autoencoder(8)
    x = mnist_test_images[:16]
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
    assert {"train_loss", "train_recon"} <= set(checkpoint["history"])
    assert not [key for key in checkpoint["history"] if key.startswith("test_")]  # the test set is not for curves


def test_checkpoint_of_another_architecture_is_refused():
    with pytest.raises(RuntimeError):
        load_checkpoint("06_vae_z16.pt", nb.VAE(2))


# claims about the trained models ------------------------------------------------------------------------------


def test_vae_test_neg_elbo_on_the_offline_subset_is_below_120_nats(mnist_test_images):
    vae, _ = _load("06_vae_z16.pt")
    terms = nb.evaluate_terms(vae, nb.vae_terms, mnist_test_images)
    assert terms["neg_elbo"] < 120
    assert terms["neg_elbo"] == pytest.approx(terms["recon"] + terms["kl"], rel=1e-6)


def test_vae_kl_rises_during_training_while_the_total_falls():
    _, checkpoint = _load("06_vae_z16.pt")
    h = checkpoint["history"]
    assert h["train_kl"][-1] > h["train_kl"][0]
    assert h["train_neg_elbo"][-1] < h["train_neg_elbo"][0]


def test_vae_samples_are_much_closer_to_real_digits_than_random_codes_of_autoencoders(mnist_test_images):
    real = judge_features(mnist_test_images)
    vae, _ = _load("06_vae_z16.pt")
    z = torch.randn(500, 16)
    vae_report = judge_report(nb.decode(vae, z), real)
    for name in ("06_ae_z16.pt", "06_ae_l2_z16.pt"):
        ae, _ = _load(name)
        ae_report = judge_report(nb.decode(ae, z), real)
        assert vae_report["frechet"] < 0.5 * ae_report["frechet"], name
    assert vae_report["digits_covered"] == 10


def test_vae_codes_fill_the_prior_while_autoencoder_codes_do_not(mnist_test_images):
    vae, _ = _load("06_vae_z2_beta1.pt")
    ae, _ = _load("06_ae_z2.pt")
    vae_radius = nb.encode_all(vae, mnist_test_images).norm(dim=1)
    ae_radius = nb.encode_all(ae, mnist_test_images).norm(dim=1)
    assert (vae_radius < 3).float().mean() > 0.8  # the prior puts 99% of its mass inside |z| < 3
    assert (ae_radius < 3).float().mean() < 0.5


def test_standard_normal_codes_miss_the_scale_of_both_autoencoders():
    ae, _ = _load("06_ae_z16.pt")
    ae_l2, _ = _load("06_ae_l2_z16.pt")
    images = cu.load_mnist("train", verbose=False).images
    assert nb.encode_all(ae, images).std(0).min() > 2  # codes far wider than N(0, I)
    assert nb.encode_all(ae_l2, images).std(0).max() < 0.6  # codes far narrower than N(0, I)


def test_larger_beta_trades_reconstruction_for_a_smaller_kl(mnist_test_images):
    kls, recons = [], []
    for beta in (0.1, 0.5, 1, 4):
        model, _ = _load(f"06_vae_z2_beta{beta:g}.pt")
        terms = nb.evaluate_terms(model, functools.partial(nb.vae_terms, beta=beta), mnist_test_images)
        kls.append(terms["kl"])
        recons.append(terms["recon"])
    assert kls == sorted(kls, reverse=True)
    assert recons[-1] > recons[0] + 1  # beta = 4 reconstructs worse than beta = 0.1


def test_interpolation_starts_and_ends_at_the_reconstructions(mnist_test_images):
    vae, _ = _load("06_vae_z16.pt")
    line = nb.interpolate(vae, mnist_test_images[0], mnist_test_images[1], steps=6)
    assert line.shape == (6, 1, 28, 28)
    ends = nb.decode(vae, nb.encode_all(vae, mnist_test_images[:2]))
    torch.testing.assert_close(line[[0, -1]], ends, atol=1e-5, rtol=0)


def test_training_loop_lowers_the_vae_loss_on_a_small_set(mnist_test_images):
    model = nb.VAE(4)
    history = nb.train_model(model, nb.vae_terms, mnist_test_images[:256], epochs=3)
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert len(history["train_neg_elbo"]) == 3
    assert not [key for key in history if not key.startswith("train_")]  # no held-out digits during training


# claims about the stored (full-mode) outputs ----------------------------------------------------------------

NAME = "06_variational_autoencoders"


def _line(label):
    lines = [line for line in stored_text(NAME).splitlines() if label in line]
    assert lines, f"no stored line contains {label!r}: refresh the notebook"
    return lines[-1]


def _numbers(text):
    return [float(v) for v in re.findall(r"[-+]?\d+\.\d+|[-+]?\d+", text)]


def test_stored_two_autoencoders_reconstruct_with_about_the_same_error():
    plain = stored_number(NAME, "plain AE        : test reconstruction BCE")
    l2 = stored_number(NAME, "AE + L2 penalty : test reconstruction BCE")
    assert abs(plain - l2) < 0.05 * plain


def test_stored_code_spreads_are_several_units_without_and_about_0_3_with_the_l2_penalty():
    plain = _numbers(_line("plain AE        : training codes have").split("std per dimension")[1])[:2]
    l2 = _numbers(_line("AE + L2 penalty : training codes have").split("std per dimension")[1])[:2]
    assert min(plain) > 2
    assert 0.2 <= min(l2) and max(l2) <= 0.45


def test_stored_judge_reads_the_reconstruction_of_the_test_5_as_a_6():
    for name in ("plain AE", "AE + L2 penalty"):
        labels, verdict = re.findall(r"\[([\d, ]+)\]", _line(f"{name:16s}: the judge reads the reconstructions"))
        assert int(labels.split(",")[0]) == 5 and int(verdict.split(",")[0]) == 6


def test_stored_matched_normal_codes_are_far_better_than_standard_normal_codes():
    for name in ("plain AE", "AE + L2 penalty"):
        standard = stored_number(NAME, f"{name:16s} N(0, I)        : Fréchet distance")
        matched = stored_number(NAME, f"{name:16s} matched normal : Fréchet distance")
        assert matched < standard / 2


def test_stored_vae_test_neg_elbo_is_below_120_and_above_its_training_figure():
    assert stored_number(NAME, "test -ELBO =") < 120
    assert stored_number(NAME, "(test minus training:") > 0


def test_stored_vae_codes_lie_mostly_inside_two_prior_standard_deviations_unlike_the_autoencoders():
    vae = _numbers(_line("VAE     : test codes with |z| < 2:"))
    plain = _numbers(_line("plain AE: test codes with |z| < 2:"))
    assert vae[1] > 50 and vae[1] > 3 * plain[1]  # [2, share %, 3, share %, ...]
    assert math.isclose(1 - math.exp(-2**2 / 2), 0.86, abs_tol=0.005)  # the prior's mass, as printed
    assert math.isclose(1 - math.exp(-3**2 / 2), 0.99, abs_tol=0.005)


def test_stored_beta_table_kl_falls_bce_rises_and_neg_elbo_is_worst_at_beta_0_1():
    rows = {}
    for line in stored_text(NAME).splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 4 and re.fullmatch(r"[\d.]+", parts[0]):
            rows[float(parts[0])] = tuple(float(p) for p in parts[1:])
    betas = sorted(rows)
    assert betas == [0.1, 0.5, 1.0, 4.0]
    bce, kl, neg_elbo = zip(*(rows[b] for b in betas))
    assert list(kl) == sorted(kl, reverse=True) and list(bce) == sorted(bce)
    assert neg_elbo[0] == max(neg_elbo)


def test_stored_judge_prefers_the_vae_and_sees_lopsided_autoencoder_histograms():
    def row(name):
        parts = [p.strip() for p in _line(f"{name:24s} |").split("|")]
        top = [int(v) for v in re.findall(r"called (\d) \((\d+)%\) and (\d) \((\d+)%\)", parts[3])[0]]
        return int(parts[1]), float(parts[2]), top

    covered, vae, (v1, v1_share, _, _) = row("VAE, z ~ N(0, I)")
    assert covered == 10 and v1_share <= 20
    for name, expected in [("plain AE, z ~ N(0, I)", {0, 7}), ("AE + L2, z ~ N(0, I)", {1, 7})]:
        _, frechet, (a, _, b, _) = row(name)
        assert {a, b} == expected and frechet > 2.5 * vae
    assert vae < row("plain AE, matched normal")[1]
