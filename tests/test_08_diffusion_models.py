"""Each claim of lecture 08 "Diffusion models", checked on the notebook's own code (cells tagged 'export'), on the
checkpoint it commits in assets/ and on its stored full-mode outputs."""

import re

import pytest
import torch

from course_utils.checkpoints import find_asset, load_checkpoint
from tools.notebook_code import load_exported, stored_number, stored_text

NAME = "08_diffusion_models"
nb = load_exported(NAME)


@pytest.fixture(scope="module")
def alpha_bar():
    return nb.alpha_bars(nb.beta_schedule(nb.T_STEPS, "cosine"))


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return nb.DiffusionUNet(channels=(8, 16, 16)).eval()


# 1. the forward process ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["linear", "cosine"])
@pytest.mark.parametrize("T", [10, 500, 1000])
def test_alpha_bar_decreases_strictly_inside_0_1_and_ends_near_pure_noise(kind, T):
    betas = nb.beta_schedule(T, kind)
    ab = nb.alpha_bars(betas)
    assert betas.shape == ab.shape == (T,)
    assert (betas > 0).all() and (betas <= 0.999).all()
    assert (ab > 0).all() and (ab < 1).all()
    assert (ab[1:] < ab[:-1]).all()
    if T >= 500:
        assert ab[-1] < 1e-3  # x_T is (almost) pure noise


def test_linear_schedule_is_ho_et_al_for_1000_steps():
    betas = nb.beta_schedule(1000, "linear")
    assert betas[0].item() == pytest.approx(1e-4) and betas[-1].item() == pytest.approx(0.02)


def test_cosine_schedule_follows_its_defining_alpha_bar():
    import math

    T, s = 500, 0.008
    ab = nb.alpha_bars(nb.beta_schedule(T, "cosine")).double()
    t = torch.arange(1, T + 1, dtype=torch.float64) / T
    f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2 / math.cos(s / (1 + s) * math.pi / 2) ** 2
    uncapped = slice(0, T - 5)  # the last few betas are capped at 0.999
    assert torch.allclose(ab[uncapped], f[uncapped], rtol=1e-4, atol=1e-7)


def test_closed_form_matches_the_moments_of_the_iterated_one_step_noising(alpha_bar):
    betas = nb.beta_schedule(nb.T_STEPS, "cosine")
    x0 = torch.linspace(-1, 1, 16)  # 16 "pixels"
    g = torch.Generator().manual_seed(1)
    x = x0.expand(40_000, 16).clone()
    for i in range(120):
        x = (1 - betas[i]).sqrt() * x + betas[i].sqrt() * torch.randn(x.shape, generator=g)
    direct = nb.add_noise(x0.expand(40_000, 16), torch.full((40_000,), 119), alpha_bar,
                          torch.randn(40_000, 16, generator=g))
    for sample in (x, direct):
        assert torch.allclose(sample.mean(0), alpha_bar[119].sqrt() * x0, atol=0.03)
        assert torch.allclose(sample.var(0), (1 - alpha_bar[119]).expand(16), atol=0.03)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: nb.beta_schedule(500, "quadratic"), "'linear' or 'cosine'"),
        (lambda: nb.beta_schedule(1, "cosine"), "at least 2"),
        (lambda: nb.beta_schedule(0, "cosine"), "T"),
        (lambda: nb.beta_schedule(10.5, "linear"), "T"),
    ],
)
def test_bad_schedule_arguments_get_a_clear_error(call, message):
    with pytest.raises((ValueError, TypeError), match=re.escape(message)):
        call()


def test_add_noise_rejects_steps_out_of_range_and_one_step_for_the_whole_batch(alpha_bar):
    x0 = torch.zeros(3, 1, 28, 28)
    with pytest.raises(ValueError, match="0..499"):
        nb.add_noise(x0, torch.tensor([0, 1, 500]), alpha_bar, torch.randn_like(x0))
    with pytest.raises(ValueError, match="one step index per image"):
        nb.add_noise(x0, torch.tensor([3]), alpha_bar, torch.randn_like(x0))


# 2. the objective ------------------------------------------------------------------------------------------------


def test_loss_is_zero_for_a_predictor_that_returns_the_true_noise(alpha_bar):
    x0 = torch.rand(16, 1, 28, 28) * 2 - 1

    class Oracle(torch.nn.Module):  # knows x0, so x_t gives the noise exactly
        def forward(self, x_t, t, labels):
            ab = alpha_bar[t].view(-1, 1, 1, 1)
            return (x_t - ab.sqrt() * x0) / (1 - ab).sqrt()

    oracle = Oracle()
    assert nb.noise_prediction_loss(oracle, x0, torch.arange(16) % 10, alpha_bar).item() < 1e-6


def test_loss_of_a_predictor_that_says_zero_is_the_noise_variance_1(alpha_bar):
    class Zero(torch.nn.Module):
        def forward(self, x, t, labels):
            return torch.zeros_like(x)

    x0 = torch.zeros(64, 1, 28, 28)
    assert nb.noise_prediction_loss(Zero(), x0, torch.zeros(64).long(), alpha_bar).item() == pytest.approx(1, abs=0.02)


def test_labels_are_dropped_to_the_null_token_at_the_given_rate(alpha_bar):
    seen = []

    class Spy(torch.nn.Module):
        def forward(self, x, t, labels):
            seen.append(labels)
            return torch.zeros_like(x)

    nb.noise_prediction_loss(Spy(), torch.zeros(4000, 1, 2, 2), torch.full((4000,), 3), alpha_bar, p_uncond=0.15)
    share = (seen[0] == nb.NULL_LABEL).float().mean().item()
    assert share == pytest.approx(0.15, abs=0.03) and set(seen[0].tolist()) == {3, nb.NULL_LABEL}


# 3. the denoiser -------------------------------------------------------------------------------------------------


def test_unet_keeps_the_image_shape_and_depends_on_the_step_and_the_label():
    torch.manual_seed(0)
    unet = nb.DiffusionUNet()
    for p in unet.label_emb.parameters():
        torch.nn.init.normal_(p)
    x = torch.randn(2, 1, 28, 28)
    t = torch.tensor([5, 5])
    out = unet(x, t, torch.tensor([1, 1]))
    assert out.shape == x.shape
    assert not torch.allclose(out, unet(x, torch.tensor([400, 400]), torch.tensor([1, 1])))
    assert not torch.allclose(out, unet(x, t, torch.tensor([7, 7])))
    assert torch.equal(unet(x, t, None), unet(x, t, torch.full((2,), nb.NULL_LABEL)))


def test_group_norm_makes_each_image_independent_of_the_rest_of_the_batch(tiny_model):
    x = torch.randn(4, 1, 28, 28)
    t = torch.tensor([1, 100, 200, 499])
    with torch.no_grad():
        together = tiny_model(x, t)
        alone = tiny_model(x[:1], t[:1])
    assert torch.allclose(together[:1], alone, atol=1e-5)


def test_stored_parameter_count_is_that_of_the_notebook_unet():
    n = sum(p.numel() for p in nb.DiffusionUNet().parameters())
    stored = re.search(r"parameters: ([\d,]+)", stored_text(NAME)).group(1)
    assert int(stored.replace(",", "")) == n


@pytest.mark.slow
def test_training_a_few_steps_lowers_the_loss_and_returns_an_ema_copy(mnist_train, alpha_bar):
    torch.manual_seed(0)
    model = nb.DiffusionUNet(channels=(8, 16, 16))
    calls = []
    ema, losses = nb.train_diffusion(model, mnist_train.images[:256], mnist_train.labels[:256], alpha_bar,
                                     steps=250, callback=lambda e, l: calls.append(len(l)))
    assert len(losses) == 250 and calls == [250]
    assert sum(losses[-25:]) / 25 < 0.5 * sum(losses[:5]) / 5
    assert ema is not model and not ema.training
    assert not torch.equal(next(ema.parameters()), next(model.parameters()))


# 4. sampling -----------------------------------------------------------------------------------------------------


def test_ddim_with_eta_0_is_deterministic_given_the_start_noise(tiny_model, alpha_bar):
    noise = nb.start_noise(4, seed=0)
    a = nb.ddim_sample(tiny_model, alpha_bar, noise, 5, guidance=0)
    torch.manual_seed(123)  # the global random state must not matter
    b = nb.ddim_sample(tiny_model, alpha_bar, noise, 5, guidance=0)
    assert torch.equal(a, b)
    c = nb.ddim_sample(tiny_model, alpha_bar, noise, 5, guidance=0, eta=1.0)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("labels", [None, torch.tensor([0, 3, 9])])
def test_samplers_return_images_of_the_judge_s_shape_in_0_1(tiny_model, alpha_bar, labels):
    noise = nb.start_noise(3, seed=1)
    ddim = nb.ddim_sample(tiny_model, alpha_bar, noise, 4, labels=labels, guidance=2.0)
    ddpm, kept = nb.ddpm_sample(tiny_model, nb.alpha_bars(nb.beta_schedule(20, "cosine")), noise, labels=labels,
                                guidance=2.0, keep=(19, 0))
    for images in (ddim, ddpm, *kept.values()):
        assert images.shape == (3, 1, 28, 28)
        assert images.min() >= 0 and images.max() <= 1
    assert sorted(kept) == [0, 19]


def test_ddim_with_every_step_and_ddpm_use_one_network_call_per_step(alpha_bar):
    calls = []

    class Counter(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(()))

        def forward(self, x, t, labels):
            calls.append(len(x))
            return torch.zeros_like(x)

    nb.ddim_sample(Counter(), alpha_bar, nb.start_noise(2, 0), 7, guidance=0)
    assert calls == [2] * 7
    calls.clear()
    nb.ddim_sample(Counter(), alpha_bar, nb.start_noise(2, 0), 7, labels=torch.tensor([1, 2]), guidance=3.0)
    assert calls == [4] * 7  # conditional and unconditional in one batch
    calls.clear()
    nb.ddpm_sample(Counter(), alpha_bar[:30], nb.start_noise(2, 0), guidance=0)
    assert calls == [2] * 30


def test_guidance_scale_0_is_the_unconditional_model_and_1_the_conditional(tiny_model, alpha_bar):
    for p in tiny_model.label_emb.parameters():
        torch.nn.init.normal_(p, generator=torch.Generator().manual_seed(0))
    x, t, y = torch.randn(3, 1, 28, 28), torch.tensor([10, 200, 400]), torch.tensor([2, 5, 8])
    with torch.no_grad():
        assert torch.allclose(nb.guided_noise(tiny_model, x, t, y, 0.0), tiny_model(x, t, None), atol=1e-6)
        assert torch.allclose(nb.guided_noise(tiny_model, x, t, y, 1.0), tiny_model(x, t, y), atol=1e-5)
        assert not torch.allclose(nb.guided_noise(tiny_model, x, t, y, 1.0), tiny_model(x, t, None), atol=1e-5)
    noise = nb.start_noise(3, seed=2)
    assert torch.allclose(nb.ddim_sample(tiny_model, alpha_bar, noise, 4, labels=y, guidance=0.0),
                          nb.ddim_sample(tiny_model, alpha_bar, noise, 4), atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(noise=torch.randn(2, 28, 28)), "(N, 1, 28, 28)"),
        (dict(steps=0), "steps"),
        (dict(steps=501), "at most T = 500"),
        (dict(labels=torch.tensor([1, 10])), "digits 0..9"),
        (dict(labels=torch.tensor([1, 2, 3])), "one digit per sample"),
        (dict(guidance=-1.0), "guidance must be >= 0"),
    ],
)
def test_bad_sampler_inputs_get_a_clear_error(tiny_model, alpha_bar, kwargs, message):
    args = dict(noise=nb.start_noise(2, 0), steps=3, labels=torch.tensor([1, 2]), guidance=1.0) | kwargs
    with pytest.raises((ValueError, TypeError), match=re.escape(message)):
        nb.ddim_sample(tiny_model, alpha_bar, args["noise"], args["steps"], labels=args["labels"],
                       guidance=args["guidance"])


# the checkpoints -------------------------------------------------------------------------------------------------


def test_diffusion_checkpoint_loads_into_the_notebook_unet_and_is_small():
    path = find_asset("08_diffusion.pt", download=False)
    assert path is not None, "assets/08_diffusion.pt is missing"
    assert path.stat().st_size < 10e6
    checkpoint = load_checkpoint("08_diffusion.pt", nb.DiffusionUNet(), data="subset")
    assert checkpoint is not None and checkpoint["steps"] == len(checkpoint["losses"])


@pytest.mark.parametrize("name, make", [("06_ae_z16.pt", lambda: nb.Autoencoder(16)),
                                        ("06_vae_z16.pt", lambda: nb.VAE(16)), ("07_dcgan.pt", lambda: nb.Generator())])
def test_earlier_lectures_checkpoints_load_into_the_copies_of_their_classes(name, make):
    model = make()
    assert load_checkpoint(name, model) is not None
    samples = nb.sample_earlier_model(model, 5, seed=0)
    assert samples.shape == (5, 1, 28, 28) and samples.min() >= 0 and samples.max() <= 1


# stored full-mode outputs: every claim of the prose that depends on training -----------------------------------


def _table():
    rows = {}
    for line in stored_text(NAME).splitlines():
        m = re.match(r"^(.+?)\s+\|\s+(\d+) / 10 \|\s+(\d+)% \|\s+([\d.]+)$", line)
        if m:
            rows[m.group(1).strip()] = (int(m.group(2)), int(m.group(3)), float(m.group(4)))
    return rows


def test_stored_judge_table_has_every_generator_with_the_same_number_of_samples():
    text = stored_text(NAME)
    assert "1,000 samples per generator, compared with 1,000 real test digits" in text
    rows = _table()
    assert set(rows) >= {"real training digits (floor)", "plain AE, random codes", "VAE (lecture 06)", "DCGAN",
                         "diffusion, unconditional"}
    assert any(name.startswith("diffusion, asked 0-9") for name in rows)


def test_stored_diffusion_beats_the_dcgan_and_covers_every_digit():
    rows = _table()
    uncond = rows["diffusion, unconditional"]
    assert uncond[0] == 10
    assert uncond[2] < rows["DCGAN"][2]
    assert uncond[2] < rows["VAE (lecture 06)"][2] and rows["VAE (lecture 06)"][0] == 10
    assert uncond[2] > rows["real training digits (floor)"][2]  # nothing reaches the floor
    conditional = next(v for k, v in rows.items() if k.startswith("diffusion, asked 0-9"))
    assert conditional[0] == 10 and rows["real training digits (floor)"][2] < conditional[2] < uncond[2]


def test_stored_conditional_samples_are_read_as_the_requested_digit_at_least_90_percent():
    assert stored_number(NAME, "conditional diffusion samples read as the requested digit:") >= 90


def test_stored_validation_loss_is_largest_at_t_1_and_smallest_at_t_T():
    losses = {int(t): float(v) for t, v in re.findall(r"at t = +(\d+): ([\d.]+)", stored_text(NAME))}
    assert losses[1] == max(losses.values()) and losses[nb.T_STEPS] == min(losses.values())


def test_stored_ddim_time_grows_with_the_steps_and_the_choice_is_the_rule_s():
    sweep = _sweep()
    assert sorted(sweep) == [5, 10, 20, 50]
    assert sweep[50][1] > sweep[5][1]
    chosen = int(stored_number(NAME, "DDIM steps chosen:"))
    best = min(fd for fd, _ in sweep.values())
    assert chosen == min(s for s in sweep if sweep[s][0] <= 1.2 * best)
    assert sweep[5][0] > sweep[chosen][0]  # too few steps cost quality


def test_stored_guidance_raises_the_share_read_as_requested_above_the_unconditional_model():
    runs = _guidance_runs()
    assert sorted(runs) == [0.0, 1.0, 2.0, 4.0]
    assert runs[1.0][0] > runs[0.0][0] + 50  # the label is ignored at w = 0 (about 10% by chance)
    assert runs[4.0][0] >= runs[1.0][0]
    chosen = stored_number(NAME, "guidance chosen:")
    faithful = [w for w in (1.0, 2.0, 4.0) if runs[w][0] >= 90]
    assert chosen in faithful and runs[chosen][1] == min(runs[w][1] for w in faithful)


def test_stored_guidance_distance_is_lowest_at_1_and_largest_at_4_as_the_prose_says():
    distance = {w: fd for w, (_, fd) in _guidance_runs().items()}
    assert min(distance, key=distance.get) == 1.0 and max(distance, key=distance.get) == 4.0  # all four, w = 0 too


def test_stored_ancestral_strip_reports_its_empty_samples():
    assert 0 <= stored_number(NAME, "samples that ended as an empty (all dark) image:") <= 4


def test_x0_error_is_a_hundredth_of_the_noise_error_at_t_1_as_section_3_says(alpha_bar):
    factor = ((1 - alpha_bar[0]) / alpha_bar[0]).sqrt().item()  # error of x0_hat per unit error of eps_theta
    assert factor < 0.01


def test_committed_loss_curve_falls_fast_then_slowly_and_levels_off_above_0():
    losses = torch.load(find_asset("08_diffusion.pt", download=False), weights_only=True)["losses"]
    first, after_400, last = (sum(part) / len(part) for part in (losses[:10], losses[400:500], losses[-200:]))
    assert first > 5 * after_400  # fast in the first few hundred steps
    assert 0.5 * after_400 < last < after_400  # then slowly
    assert stored_number(NAME, "loss, mean of the last 200 steps:") == pytest.approx(last, abs=1e-4)
    assert last > 0.01  # well above 0


def _sweep():
    return {int(s): (float(fd), float(sec)) for s, fd, sec in re.findall(
        r"DDIM +(\d+) steps: Fréchet distance to validation digits +([\d.]+), +([\d.]+) s", stored_text(NAME))}


def test_stored_ddim_distance_falls_steeply_up_to_the_chosen_steps_and_little_after():
    sweep = _sweep()
    chosen = int(stored_number(NAME, "DDIM steps chosen:"))
    fewest, most = min(sweep), max(sweep)
    assert sweep[fewest][0] - sweep[chosen][0] > 3 * (sweep[chosen][0] - sweep[most][0])


def test_stored_ddim_time_is_about_proportional_to_the_steps():
    per_step = [sec / steps for steps, (_, sec) in _sweep().items()]
    assert max(per_step) < 2 * min(per_step)


def _guidance_runs():
    return {float(w): (float(share), float(fd)) for w, share, fd in re.findall(
        r"guidance ([\d.]+): read as the requested digit +([\d.]+)%, Fréchet distance to validation digits +([\d.]+)",
        stored_text(NAME))}


def test_stored_share_read_as_requested_rises_with_the_guidance_scale():
    runs = _guidance_runs()
    shares = [runs[w][0] for w in sorted(runs)]
    assert shares == sorted(shares) and len(set(shares)) == len(shares)
    assert runs[1.0][0] < 100  # "many samples become the requested digit, but not all"


def test_linear_schedule_spends_several_times_more_steps_on_near_pure_noise_than_cosine():
    share = {kind: (nb.alpha_bars(nb.beta_schedule(500, kind)) < 0.01).float().mean().item()
             for kind in ("linear", "cosine")}
    assert share["linear"] > 3 * share["cosine"]


def test_tweedie_the_average_noise_at_x_t_is_minus_sqrt_1_minus_abar_times_the_score(alpha_bar):
    a, v = alpha_bar[149].double().sqrt(), 1 - alpha_bar[149].double()  # float64: no rounding in the gaps
    g = torch.Generator().manual_seed(3)
    x0 = torch.randint(0, 2, (400_000,), generator=g).double() * 2 - 1  # one-pixel "digits" -1 and +1
    eps = torch.randn(len(x0), generator=g, dtype=torch.float64)
    x_t = nb.add_noise(x0[:, None], torch.full((len(x0),), 149), alpha_bar, eps[:, None])[:, 0]
    score = (a * torch.tanh(a * x_t / v) - x_t) / v  # of the mixture (N(a, v) + N(-a, v)) / 2
    for centre in (-1.5, -0.5, 0.0, 0.3, 1.0, 2.0):
        near = (x_t - centre).abs() < 0.03
        gap = eps[near] + v.sqrt() * score[near]
        assert gap.mean().abs() < 4 * eps[near].std() / near.sum().sqrt()  # the standard error of the average noise
    wrong = eps[(x_t - 1.0).abs() < 0.03] + score[(x_t - 1.0).abs() < 0.03]  # without the factor sqrt(1 - abar)
    assert wrong.mean().abs() > 0.1


def test_cosine_schedule_caps_the_last_beta_so_algorithm_2_would_amplify_the_first_step_32_times():
    betas = nb.beta_schedule(500, "cosine")
    assert betas[-1].item() == pytest.approx(0.999)
    assert (1 / (1 - betas[-1]).sqrt()).item() == pytest.approx(31.6, abs=0.1)


class _KnowsTheDigit(torch.nn.Module):
    """Predicts exactly the noise for which x0_hat is a fixed constant image (inside [-1, 1])."""

    def __init__(self, alpha_bar, value=0.3):
        super().__init__()
        self.alpha_bar, self.value = alpha_bar, value
        self.w = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x, t, labels):
        ab = self.alpha_bar[t].view(-1, 1, 1, 1)
        return (x - ab.sqrt() * self.value) / (1 - ab).sqrt()


def test_ddpm_step_is_ho_et_al_algorithm_2_when_x0_hat_needs_no_clipping():
    ab = nb.alpha_bars(nb.beta_schedule(30, "cosine"))
    model, noise = _KnowsTheDigit(ab), nb.start_noise(2, seed=0)
    torch.manual_seed(5)
    out, _ = nb.ddpm_sample(model, ab, noise, guidance=0)
    torch.manual_seed(5)  # the same draws, Algorithm 2 by hand
    x = noise.clone()
    for t in range(29, -1, -1):
        alpha = ab[t] / (ab[t - 1] if t > 0 else 1.0)
        eps = model(x, torch.full((2,), t), None)
        x = (x - (1 - alpha) / (1 - ab[t]).sqrt() * eps) / alpha.sqrt()
        if t > 0:
            x = x + (1 - alpha).sqrt() * torch.randn_like(x)
    assert torch.allclose(out, (x.clamp(-1, 1) + 1) / 2, atol=1e-4)
    assert torch.allclose(out, torch.full_like(out, (0.3 + 1) / 2), atol=1e-4)  # the last step returns x0_hat


def test_ddpm_first_step_does_not_amplify_the_network_s_error_at_t_T(alpha_bar):
    class SlightlyOff(torch.nn.Module):  # at t = T the noise is x_T itself; this network is off by 0.05
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(()))

        def forward(self, x, t, labels):
            return x + 0.05

    torch.manual_seed(0)
    _, kept = nb.ddpm_sample(SlightlyOff(), alpha_bar, nb.start_noise(64, seed=0), guidance=0, keep=(498,))
    # x_{T-1} should be about N(0, I), so its pixels, clamped and mapped to [0, 1], average about 0.5;
    # Algorithm 2 would shift them by -0.05 * 0.999 / sqrt(0.001), about -1.6, and the average would fall below 0.2
    assert kept[498].mean().item() == pytest.approx(0.5, abs=0.03)


def test_stored_closed_form_and_tweedie_checks_hold():
    text = stored_text(NAME)
    assert "the closed form matches the iterated noising: True" in text
    assert re.search(r"average noise = -sqrt\(v\) \* score within 4 standard errors at all \d+ points: True", text)


def test_stored_lecture_07_balanced_gan_lies_between_the_unconditional_and_the_conditional_diffusion_model():
    gan = re.search(r"^GAN: 5 G steps per D step +\|.*\| +([\d.]+)$", stored_text("07_generative_adversarial_networks"),
                    re.M)
    assert gan, "lecture 07's table has no row for its balanced GAN"
    balanced = float(gan.group(1))
    rows = _table()
    uncond = rows["diffusion, unconditional"][2]
    conditional = next(v for k, v in rows.items() if k.startswith("diffusion, asked 0-9"))[2]
    assert conditional < balanced < uncond and balanced > 0.8 * uncond  # "a little lower" than the unconditional
    assert "1,000 samples per generator, compared with 1,000 real test digits" in stored_text(
        "07_generative_adversarial_networks")  # the same table setting as here


def test_stored_sampling_time_per_digit_of_diffusion_is_far_above_the_dcgan_s():
    m = re.search(r"sampling time per digit: diffusion ([\d.]+) ms \(DDIM, \d+ steps\), DCGAN ([\d.]+) ms",
                  stored_text(NAME))
    assert m and float(m.group(1)) > 20 * float(m.group(2))
