"""Each claim of lecture 06 "Variational autoencoders", checked on the notebook's own code (cells tagged 'export')
and on the checkpoints it commits in assets/."""

import functools
import math
import re

import pytest
import torch
import torch.nn.functional as F

import course_utils as cu
from course_utils.checkpoints import find_asset, load_checkpoint
from course_utils.generative import judge_features, judge_report
from tools.notebook_code import load_exported, stored_number, stored_text

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


def test_validation_digits_are_a_fixed_eighth_of_the_training_digits_and_disjoint_from_them():
    data = cu.load_mnist("train", verbose=False)
    train, val = nb.split_off_validation(data)
    assert len(val.images) == len(data.images) // 8 and len(train.images) + len(val.images) == len(data.images)
    again, _ = nb.split_off_validation(data)
    assert torch.equal(train.images, again.images)  # a fixed draw
    nearest = torch.cdist(val.images[:50].flatten(1), train.images.flatten(1)).min(1).values
    assert (nearest > 0).all()  # no validation digit is also a training digit


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
    assert checkpoint["data"] == "subset" and checkpoint["epochs"] >= 20
    assert checkpoint["held_out"] == nb_held_out()  # trained without the validation digits
    assert find_asset(name, download=False).stat().st_size < 1_000_000
    history = checkpoint["history"]
    assert {"train_loss", "train_recon", "val_loss", "val_recon"} <= set(history)
    assert len(history["val_loss"]) == len(history["train_loss"]) == checkpoint["epochs"]
    assert not [key for key in history if key.startswith("test_")]  # the test set is not for curves


def nb_held_out():
    """The notebook's HELD_OUT string (defined in a cell that is not exported, so read from its source)."""
    import nbformat

    from tools.notebook_code import NOTEBOOKS

    cells = nbformat.read(NOTEBOOKS / "06_variational_autoencoders.ipynb", as_version=4).cells
    line = next(line for c in cells for line in c.source.splitlines() if line.startswith("HELD_OUT = "))
    return line.split("=", 1)[1].split("#")[0].strip().strip('"')


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


def test_larger_beta_gives_a_smaller_kl_while_the_2d_reconstructions_stay_within_a_few_nats(mnist_test_images):
    kls, recons = [], []
    for beta in (0.1, 0.5, 1, 4):
        model, _ = _load(f"06_vae_z2_beta{beta:g}.pt")
        terms = nb.evaluate_terms(model, functools.partial(nb.vae_terms, beta=beta), mnist_test_images)
        kls.append(terms["kl"])
        recons.append(terms["recon"])
    assert kls == sorted(kls, reverse=True)
    assert max(recons) - min(recons) < 5  # two latent dimensions blur every reconstruction about as much


def test_interpolation_starts_and_ends_at_the_reconstructions(mnist_test_images):
    vae, _ = _load("06_vae_z16.pt")
    line = nb.interpolate(vae, mnist_test_images[0], mnist_test_images[1], steps=6)
    assert line.shape == (6, 1, 28, 28)
    ends = nb.decode(vae, nb.encode_all(vae, mnist_test_images[:2]))
    torch.testing.assert_close(line[[0, -1]], ends, atol=1e-5, rtol=0)


def test_training_loop_lowers_the_vae_loss_on_a_small_set_and_logs_validation_terms(mnist_test_images):
    model = nb.VAE(4)
    history = nb.train_model(model, nb.vae_terms, mnist_test_images[:256], epochs=3)
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert len(history["train_neg_elbo"]) == 3
    assert not [key for key in history if not key.startswith("train_")]  # nothing held out unless asked
    history = nb.train_model(nb.VAE(4), nb.vae_terms, mnist_test_images[:256], epochs=2,
                             val_images=mnist_test_images[256:320])
    assert len(history["val_neg_elbo"]) == 2 and len(history["val_kl"]) == 2


def test_vae_validation_neg_elbo_still_falls_at_the_last_epoch_so_the_fixed_epochs_do_not_overtrain():
    for name in ("06_vae_z16.pt", "06_vae_z2_beta1.pt", "06_ae_z16.pt"):
        history = _load(name)[1]["history"]
        key = "val_neg_elbo" if "val_neg_elbo" in history else "val_loss"
        curve = history[key]
        assert min(curve) > curve[-1] - 0.5, name  # the last epoch is (within 0.5 nats) the best on validation


# claims about the stored (full-mode) outputs ----------------------------------------------------------------

NAME = "06_variational_autoencoders"


def _line(label):
    lines = [line for line in stored_text(NAME).splitlines() if label in line]
    assert lines, f"no stored line contains {label!r}: refresh the notebook"
    return lines[-1]


def _numbers(text):
    return [float(v) for v in re.findall(r"[-+]?\d+\.\d+|[-+]?\d+", text)]


def test_stored_lecture_uses_3500_training_500_validation_and_1000_test_digits():
    assert "training 3,500, validation 500, test 1,000 digits" in stored_text(NAME)


def test_stored_test_set_is_touched_in_one_cell_only():
    import nbformat

    from tools.notebook_code import NOTEBOOKS

    cells = nbformat.read(NOTEBOOKS / f"{NAME}.ipynb", as_version=4).cells
    def reads_test_digits(source):  # counting them (len) is not looking at them
        return re.search(r"\btest\.(images|labels)", source.replace("len(test.images)", ""))

    uses = [i for i, c in enumerate(cells) if c.cell_type == "code" and reads_test_digits(c.source)]
    assert len(uses) == 1, f"cells {uses} use the test digits: every choice and figure should use `val`"
    assert "## 7 · The final numbers, on the test set" in cells[uses[0] - 1].source


def test_stored_two_autoencoders_reconstruct_with_about_the_same_error():
    plain = stored_number(NAME, "plain AE        : validation reconstruction BCE")
    l2 = stored_number(NAME, "AE + L2 penalty : validation reconstruction BCE")
    assert abs(plain - l2) < 0.05 * plain


def test_stored_code_spreads_are_several_units_without_and_about_0_3_with_the_l2_penalty():
    plain = _numbers(_line("plain AE        : training codes have").split("std per dimension")[1])[:2]
    l2 = _numbers(_line("AE + L2 penalty : training codes have").split("std per dimension")[1])[:2]
    assert min(plain) > 2
    assert 0.3 <= min(l2) and max(l2) <= 0.45  # "a spread of about 0.3 to 0.4"


def test_stored_judge_reads_all_four_reconstructions_as_the_digits_they_came_from():
    for name in ("plain AE", "AE + L2 penalty"):
        labels, verdict = re.findall(r"\[([\d, ]+)\]", _line(f"{name:16s}: the judge reads the reconstructions"))
        assert labels == verdict


def test_stored_matched_normal_codes_are_far_better_than_standard_normal_codes():
    for name in ("plain AE", "AE + L2 penalty"):
        standard = stored_number(NAME, f"{name:16s} N(0, I)        : Fréchet distance")
        matched = stored_number(NAME, f"{name:16s} matched normal : Fréchet distance")
        assert matched < standard / 2


def test_stored_vae_neg_elbo_is_below_120_and_above_its_training_figure_on_validation_and_test():
    assert stored_number(NAME, "validation -ELBO =") < 120
    assert stored_number(NAME, "(validation minus training:") > 0
    test, validation = stored_number(NAME, "test -ELBO ="), stored_number(NAME, "; validation:")
    assert test < 120 and abs(test - validation) < 1.5  # "within about a nat of the validation figure"
    assert test > stored_number(NAME, "the same on the training digits:")


def test_stored_vae_codes_lie_mostly_inside_two_prior_standard_deviations_unlike_the_autoencoders():
    vae = _numbers(_line("VAE     : validation codes with |z| < 2:"))
    plain = _numbers(_line("plain AE: validation codes with |z| < 2:"))
    assert vae[1] > 50 and vae[1] > 3 * plain[1]  # [2, share %, 3, share %, ...]
    assert math.isclose(1 - math.exp(-2**2 / 2), 0.86, abs_tol=0.005)  # the prior's mass, as printed
    assert math.isclose(1 - math.exp(-3**2 / 2), 0.99, abs_tol=0.005)


def test_stored_beta_table_kl_falls_bce_within_3_nats_and_neg_elbo_worst_at_0_1_best_at_1():
    rows = {}
    for line in stored_text(NAME).splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 4 and re.fullmatch(r"[\d.]+", parts[0]):
            rows[float(parts[0])] = tuple(float(p) for p in parts[1:])
    betas = sorted(rows)
    assert betas == [0.1, 0.5, 1.0, 4.0]
    bce, kl, neg_elbo = zip(*(rows[b] for b in betas))
    assert list(kl) == sorted(kl, reverse=True)
    assert max(bce) - min(bce) < 3
    assert neg_elbo[0] == max(neg_elbo) and neg_elbo[2] == min(neg_elbo) and neg_elbo[3] - neg_elbo[2] < 1


def test_stored_judge_prefers_the_vae_and_sees_lopsided_autoencoder_histograms():
    def row(name):
        lines = [line for line in stored_text(NAME).splitlines() if line.startswith(f"{name:24s} |")]
        lines = [line for line in lines if "called" in line]  # the validation table's rows name the top digits
        assert lines, f"no stored row for {name!r} in the validation table"
        parts = [p.strip() for p in lines[-1].split("|")]
        top = [int(v) for v in re.findall(r"called (\d) \((\d+)%\) and (\d) \((\d+)%\)", parts[3])[0]]
        return int(parts[1]), float(parts[2]), top

    covered, vae, (v1, v1_share, _, _) = row("VAE, z ~ N(0, I)")
    assert covered == 10 and v1_share <= 20
    for name, expected in [("plain AE, z ~ N(0, I)", {0, 7}), ("AE + L2, z ~ N(0, I)", {1, 7})]:
        _, frechet, (a, _, b, _) = row(name)
        assert {a, b} == expected and frechet > 2.5 * vae
    assert vae < row("plain AE, matched normal")[1]


def test_stored_test_table_ranks_the_generators_as_the_validation_table_does():
    def frechets(header):
        text = stored_text(NAME).split(header, 1)[1]
        rows = {}
        for line in text.splitlines()[1:]:
            parts = [p.strip() for p in line.split("|")]
            if len(parts) < 3:
                break
            rows[parts[0]] = float(parts[2])
        return rows

    validation = frechets("Fréchet distance to real validation digits")
    test = frechets("Fréchet distance to real test digits")
    assert set(validation) == set(test) and len(test) == 5
    assert sorted(validation, key=validation.get) == sorted(test, key=test.get)
    assert test["real training digits"] < validation["real training digits"]  # "the floor included"
    assert all(test[k] < validation[k] for k in test)  # "the distances themselves are smaller here"


def test_validation_kl_needs_no_sampling_so_its_zigzag_comes_from_the_weights(mnist_test_images):
    vae, _ = _load("06_vae_z16.pt")
    torch.manual_seed(0)
    first = nb.evaluate_terms(vae, nb.vae_terms, mnist_test_images[:200])
    torch.manual_seed(1)
    second = nb.evaluate_terms(vae, nb.vae_terms, mnist_test_images[:200])
    assert first["kl"] == pytest.approx(second["kl"], rel=1e-6)  # a fresh z changes the BCE, never the KL
    history = _load("06_vae_z16.pt")[1]["history"]
    steps = lambda curve: sum(abs(b - a) for a, b in zip(curve[-20:], curve[-19:])) / 19  # noqa: E731
    assert steps(history["val_kl"]) > 2 * steps(history["val_neg_elbo"])  # "their sum ... is much smoother"
    assert steps(history["val_kl"]) > 2 * steps(history["train_kl"])  # the training curve is smoother


def test_vae_validation_curves_end_about_7_nats_above_the_training_curves_and_are_lowest_at_epoch_40():
    history = _load("06_vae_z16.pt")[1]["history"]
    gap = history["val_neg_elbo"][-1] - history["train_neg_elbo"][-1]
    assert 5 < gap < 9  # "end about 7 nats above them"
    assert 5 < stored_number(NAME, "(validation minus training:") < 9
    curve = history["val_neg_elbo"]
    assert curve[-1] == min(curve) and len(curve) == 40  # "still (slowly) falling at epoch 40"


def test_stored_nearly_all_validation_ones_of_the_2d_vae_lie_above_its_decoded_grid():
    share = stored_number(NAME, "validation 1s with codes above the grid's top edge z2 = 1.88:")
    assert share >= 85  # "almost all their codes lie above the grid's top edge"
