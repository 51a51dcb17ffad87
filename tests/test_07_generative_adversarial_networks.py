"""Each claim of lecture 07 "Generative adversarial networks", checked on the notebook's own code (cells tagged
'export') and on the checkpoints it commits in assets/."""

import math
import re

import pytest
import torch
import torch.nn as nn

from course_utils.checkpoints import find_asset, load_checkpoint
from course_utils.generative import judge_features, judge_report
from tools import seed_claims
from tools.notebook_code import code_cell_containing, load_exported, markdown_text, stored_text

nb = load_exported("07_generative_adversarial_networks")

GAN_CHECKPOINTS = ["07_dcgan.pt", "07_gan_strong_d.pt", "07_gan_bad_lr.pt", "07_gan_fast_g.pt"]


@pytest.fixture(scope="module")
def real_features(mnist_test_images):
    return judge_features(mnist_test_images)


def _generator(name):
    G = nb.Generator()
    checkpoint = load_checkpoint(name, G)
    assert checkpoint is not None, f"assets/{name} is missing"
    return G.eval(), checkpoint


@pytest.fixture(scope="module")
def gan_report(real_features):
    """The judge's report on ``n`` samples (seed 3) of the committed generator ``name``, computed once per module:
    several tests read the same DCGAN report."""
    reports = {}

    def report(name, n):
        if (name, n) not in reports:
            reports[name, n] = judge_report(nb.sample(_generator(name)[0], n, seed=3), real_features)
        return reports[name, n]

    return report


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


def _changed(before, model) -> bool:
    return not all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


@pytest.mark.parametrize("player", ["discriminator", "generator"])
def test_steps_of_one_player_leave_the_other_alone(mnist_test_images, player):
    """With the other player's learning rate at zero, only the player whose steps these are changes."""
    G, D = nb.Generator(), nb.Discriminator()
    g_before, d_before = _params(G), _params(D)
    other_frozen = {"lr_g": 0.0} if player == "discriminator" else {"lr_d": 0.0}
    nb.train_gan(G, D, mnist_test_images[:128], steps=2, n_snapshots=2, **other_frozen)
    changed = {"generator": _changed(g_before, G), "discriminator": _changed(d_before, D)}
    assert changed == {"generator": player == "generator", "discriminator": player == "discriminator"}


def test_train_gan_logs_every_step_and_takes_fixed_noise_snapshots(mnist_test_images):
    history, snapshots, steps = nb.train_gan(nb.Generator(), nb.Discriminator(), mnist_test_images[:128], steps=5,
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
    assert checkpoint["data"] == "subset"
    assert find_asset(name, download=False).stat().st_size < 1_000_000
    assert len(checkpoint["history"]["d_loss"]) == checkpoint["steps"]
    assert checkpoint["snapshots"].dtype == torch.uint8 and checkpoint["snapshots"].shape[1:] == (16, 1, 28, 28)


@pytest.mark.parametrize("name, cls", [("06_ae_z16.pt", "Autoencoder"), ("06_vae_z16.pt", "VAE")])
def test_lecture_06_checkpoints_load_into_the_copies_of_its_classes(name, cls):
    model = getattr(nb, cls)(16)
    assert load_checkpoint(name, model) is not None
    assert nb.sample_decoder(model, 5).shape == (5, 1, 28, 28)


# claims of the comparison table --------------------------------------------------------------------------------------


def test_dcgan_covers_most_digits_and_is_closest_to_real_digits(real_features, gan_report):
    gan = gan_report("07_dcgan.pt", 500)
    assert gan["digits_covered"] >= 8
    vae = nb.VAE(16)
    load_checkpoint("06_vae_z16.pt", vae)
    ae = nb.Autoencoder(16)
    load_checkpoint("06_ae_z16.pt", ae)
    vae_fd = judge_report(nb.sample_decoder(vae, 500, seed=3), real_features)["frechet"]
    ae_fd = judge_report(nb.sample_decoder(ae, 500, seed=3), real_features)["frechet"]
    assert gan["frechet"] < vae_fd < ae_fd


def test_too_strong_a_discriminator_with_the_minimax_loss_leaves_the_generator_at_noise(gan_report):
    history = _generator("07_gan_strong_d.pt")[1]["history"]
    assert sum(history["d_fake"][-100:]) / 100 < 0.01 and sum(history["d_real"][-100:]) / 100 > 0.99
    strong = gan_report("07_gan_strong_d.pt", 500)
    assert strong["frechet"] > 5 * gan_report("07_dcgan.pt", 500)["frechet"]
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


def test_five_generator_steps_balance_the_game_and_give_the_best_samples(gan_report):
    checkpoint = _generator("07_gan_fast_g.pt")[1]
    d_real = sum(checkpoint["history"]["d_real"][-500:]) / 500
    d_fake = sum(checkpoint["history"]["d_fake"][-500:]) / 500
    assert abs(d_real - 0.5) < 0.1 and abs(d_fake - 0.5) < 0.1
    balanced = gan_report("07_gan_fast_g.pt", 500)
    assert balanced["digits_covered"] == 10
    assert balanced["frechet"] < gan_report("07_dcgan.pt", 500)["frechet"]


def test_dcgan_rarely_draws_ones_which_the_class_histogram_reveals(gan_report):
    counts = gan_report("07_dcgan.pt", 1000)["histogram"]
    assert counts[1] < 0.05 * counts.sum()


def test_batch_norm_in_training_mode_is_the_formula_of_the_lecture():
    bn = nn.BatchNorm2d(3)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.0, 2.0, 0.5]))
        bn.bias.copy_(torch.tensor([0.0, -1.0, 3.0]))
    x = torch.randn(8, 3, 5, 5) * 4 + 2
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
    expected = bn.weight.view(1, 3, 1, 1) * (x - mean) / torch.sqrt(var + bn.eps) + bn.bias.view(1, 3, 1, 1)
    torch.testing.assert_close(bn(x), expected, atol=1e-5, rtol=1e-5)
    bn.eval()  # evaluation mode: the running averages, not the batch's statistics
    assert not torch.allclose(bn(x), expected, atol=1e-3)


# claims about the stored (full-mode) outputs ----------------------------------------------------------------

NAME = "07_generative_adversarial_networks"


def _lines():
    return stored_text(NAME).splitlines()


def _last_steps(prefix):
    line = [line for line in _lines() if line.startswith(prefix) and "average over the last 500 steps" in line][-1]
    return {k: float(v) for k, v in re.findall(r"(d_loss|g_loss|d_real|d_fake) ([-\d.]+)", line)}


def test_stored_dcgan_discriminator_keeps_a_clear_edge():
    last = _last_steps("average over")
    assert last["d_real"] > 0.8 and last["d_fake"] < 0.2


def test_stored_strong_discriminator_wins_outright_and_five_g_steps_end_balanced():
    strong = _last_steps("strong D + minimax loss")
    assert strong["d_loss"] < 0.05 and strong["d_real"] > 0.95 and strong["d_fake"] < 0.05
    balanced = _last_steps("5 G steps per D step")
    assert abs(balanced["d_loss"] - 2 * math.log(2)) < 0.1
    assert abs(balanced["d_real"] - 0.5) < 0.1 and abs(balanced["d_fake"] - 0.5) < 0.1


def _snapshot_counts(run):
    line = [line for line in _lines() if line.startswith(f"{run:24s} | ") and "/" in line][-1]
    return [tuple(map(int, m)) for m in re.findall(r"(\d+): (\d+)/(\d+)", line.split("|", 1)[1])]


def test_stored_bad_learning_rate_collapses_at_one_snapshot_and_escapes():
    counts = _snapshot_counts("bad learning rate")
    later = [(i, c) for i, c in enumerate(counts) if c[0] > 10]  # after the untrained generator's first steps
    collapsed = [i for i, (_, _, largest) in later if largest >= 12]
    assert len(collapsed) == 1, "one collapsed snapshot"
    i = collapsed[0]
    assert i + 1 < len(counts) and counts[i + 1][2] <= 8, "the next snapshot is varied again"
    assert counts[-1][1] >= 7


def test_stored_five_g_steps_run_never_collapses_after_its_first_steps():
    counts = _snapshot_counts("5 G steps per D step")
    assert all(largest <= 8 for step, _, largest in counts if step > 100)
    assert counts[-1][1] >= 8


def _judge_rows():
    rows = {}
    for line in _lines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 6 and "/ 10" in parts[2]:  # generator | trained on | covered | largest | rarest | FD
            share, rarest = re.fullmatch(r"(\d) \(\s*(\d+)%\)", parts[4]).groups()
            rows[parts[0]] = {"trained on": parts[1], "covered": int(parts[2].split("/")[0]),
                              "largest": int(parts[3].rstrip("%")), "rarest": int(share),
                              "rarest_share": int(rarest), "frechet": float(parts[5])}
    return rows


def test_stored_judge_table_ranks_the_generators_as_the_prose_says():
    r = _judge_rows()
    f = {name: row["frechet"] for name, row in r.items()}
    assert f["real training digits (floor)"] < 10
    assert (f["GAN: 5 G steps per D step"] < f["DCGAN"] < f["GAN: bad learning rate"] < f["VAE (lecture 06)"]
            < f["plain AE, random codes"] < f["GAN: strong D + minimax loss"])
    vae = r["VAE (lecture 06)"]
    assert vae["covered"] == 10
    assert vae["largest"] < min(r["DCGAN"]["largest"], r["plain AE, random codes"]["largest"])
    assert r["DCGAN"]["rarest_share"] < 5, "the DCGAN drops one digit"
    ae = r["plain AE, random codes"]
    working = [name for name in r if name not in ("real training digits (floor)", "plain AE, random codes",
                                                  "GAN: strong D + minimax loss")]
    assert ae["largest"] > max(r[name]["largest"] for name in working), "a larger share than any other working model"
    assert ae["covered"] <= 7, "several digits are missing"
    assert r["GAN: strong D + minimax loss"]["covered"] <= 3
    assert r["GAN: 5 G steps per D step"]["covered"] == 10
    assert r["GAN: 5 G steps per D step"]["covered"] >= max(row["covered"] for row in r.values())


def test_stored_choice_on_training_digits_also_ranks_the_five_g_steps_run_first():
    to_train = {line.split(" Fréchet distance to")[0].strip(): float(line.rsplit(":", 1)[1])
                for line in _lines() if "real training digits:" in line and "Fréchet distance to" in line}
    assert set(to_train) == {"DCGAN", "GAN: strong D + minimax loss", "GAN: bad learning rate",
                             "GAN: 5 G steps per D step"}
    assert min(to_train, key=to_train.get) == "GAN: 5 G steps per D step"


def test_stored_bad_learning_rate_collapse_is_at_step_185_with_13_of_16_in_one_class_as_the_prose_says():
    counts = _snapshot_counts("bad learning rate")
    collapsed = [(step, largest) for step, _, largest in counts if step > 10 and largest >= 12]
    assert collapsed == [(185, 13)]


def test_stored_five_g_steps_run_has_at_most_4_in_one_class_after_100_steps_and_sees_10_then_9_digits():
    counts = _snapshot_counts("5 G steps per D step")
    assert max(largest for step, _, largest in counts if step > 100) <= 4
    assert [seen for _, seen, _ in counts[-2:]] == [10, 9]


def test_stored_choice_on_training_digits_comes_before_the_test_report_at_a_bit_more_than_half_the_dcgan_s():
    lines = _lines()
    choice = [i for i, line in enumerate(lines) if "real training digits:" in line]
    report = [i for i, line in enumerate(lines) if "real test digits" in line]
    assert choice and report and max(choice) < min(report), "the choice is made before the test digits are used"
    to_train = {lines[i].split(" Fréchet distance to")[0].strip(): float(lines[i].rsplit(":", 1)[1]) for i in choice}
    assert 0.5 < to_train["GAN: 5 G steps per D step"] / to_train["DCGAN"] < 0.67, "a bit more than half the DCGAN's"


def test_dcgan_draws_few_1s_2s_and_4s_as_the_prose_says(gan_report):
    counts = gan_report("07_dcgan.pt", 1000)["histogram"]
    share = counts / counts.sum()
    assert share[1] < 0.03 and share[2] < 0.06 and share[4] < 0.06
    assert _judge_rows()["DCGAN"]["rarest"] == 1 and _judge_rows()["DCGAN"]["rarest_share"] == 2


def test_about_half_of_the_dcgan_snapshot_columns_keep_their_digit_over_the_last_two_snapshots():
    from course_utils.generative import load_judge

    _, checkpoint = _generator("07_dcgan.pt")
    assert checkpoint["snapshot_steps"][-2:] == [955, 3000]
    judge = load_judge(verbose=False)
    with torch.no_grad():
        labels = [judge(s[:12].float() / 255).argmax(1) for s in checkpoint["snapshots"][-2:]]
    assert 4 <= int((labels[0] == labels[1]).sum()) <= 8


def test_dcgan_snapshots_are_spaced_geometrically_and_the_background_turns_black_within_a_hundred_steps():
    _, checkpoint = _generator("07_dcgan.pt")
    steps = checkpoint["snapshot_steps"]
    assert steps[:3] == [1, 3, 9] and steps[-1] == 3000 and len(steps) == 8  # "(1, 3, 9, ...)", 8 snapshots
    medians = [float((s.float() / 255).median()) for s in checkpoint["snapshots"]]
    assert medians[0] > 0.4  # grey noise at the start
    before_100 = [m for step, m in zip(steps, medians) if step < 100]
    assert before_100[-1] < medians[0] - 0.2  # "over the first hundred steps ... the background darker"
    assert all(m < 0.05 for step, m in zip(steps, medians) if step > 300)  # then "on a black background"


def test_dcgan_losses_change_only_slowly_after_about_a_thousand_steps():
    _, checkpoint = _generator("07_dcgan.pt")
    for key, spread in (("d_loss", 0.1), ("g_loss", 0.5)):
        values = checkpoint["history"][key]
        blocks = [sum(values[i : i + 500]) / 500 for i in range(0, len(values), 500)]
        assert max(blocks[2:]) - min(blocks[2:]) < spread  # steps 1001-3000: slow drift
    g_blocks = [sum(checkpoint["history"]["g_loss"][i : i + 500]) / 500 for i in (0, 1000)]
    assert g_blocks[0] - g_blocks[1] > 1  # while the first 500 steps were far off


# the data behind every row of the judge's table --------------------------------------------------------------------


@pytest.mark.parametrize("name", GAN_CHECKPOINTS)
def test_no_committed_gan_matches_the_full_mnist_so_a_full_run_retrains_it(name):
    assert load_checkpoint(name, nb.Generator(), data="full") is None
    assert load_checkpoint(name, nb.Generator(), data="subset") is not None


def _run_lecture_06_loader(data, found):
    """Run the notebook's cell that loads lecture 06's models, as in a run on ``data``, with checkpoints that were
    trained on ``found`` (None: no checkpoint, so it retrains on this run's data)."""
    import course_utils as cu

    source = code_cell_containing(NAME, "def load_or_retrain_lecture_06(name, model):")
    images = torch.rand(64, 1, 28, 28)
    namespace = dict(vars(nb), DATA=data, device="cpu", seed=0, train=cu.ImageData(images, torch.zeros(64).long(), ""),
                     load_checkpoint=lambda name, model: None if found is None else {"data": found})
    exec(compile(source, "<lecture 06 loader>", "exec"), namespace)
    return namespace["plain_ae_data"], namespace["vae_data"]


def test_lecture_06_models_carry_the_data_their_checkpoint_was_trained_on_into_the_table():
    """COURSE_MNIST=full with lecture 06's committed (subset) checkpoints: the rows say 'subset', and the table says
    that it mixes data; a model retrained here says this run's data."""
    assert _run_lecture_06_loader("full", "subset") == ("subset", "subset")
    assert _run_lecture_06_loader("full", None) == ("full", "full")  # retrained (fast mode: one epoch) on this run's
    source = code_cell_containing(NAME, "trained_on = {name: DATA for name in candidates}")
    assert 'trained_on["plain AE, random codes"] = plain_ae_data' in source
    assert 'trained_on["VAE (lecture 06)"] = vae_data' in source
    assert "print(judge_table(reports, trained_on))" in code_cell_containing(NAME, "real_features = judge_features(")
    fake = {"histogram": torch.ones(10, dtype=torch.long), "digits_covered": 10, "frechet": 1.0}
    table = nb.judge_table({"VAE (lecture 06)": fake, "DCGAN": fake}, {"VAE (lecture 06)": "subset", "DCGAN": "full"})
    assert "Note: these rows were trained on different data" in table


def test_stored_table_says_every_row_was_trained_on_the_subset_and_needs_no_note():
    rows = _judge_rows()
    assert len(rows) == 7 and {row["trained on"] for row in rows.values()} == {"subset"}
    assert "trained on different data" not in stored_text(NAME)


# claims over sampling seeds (benchmarks.json, row "07_generative_adversarial_networks (seeds)") -------------------


def _paragraph(pattern):
    found = [p for p in markdown_text(NAME).split("\n\n") if re.search(pattern, p)]
    assert len(found) == 1, f"expected one paragraph matching {pattern!r}, found {len(found)}"
    return found[0]


def test_choice_on_training_digits_picks_the_five_g_steps_run_at_a_bit_more_than_half_the_dcgan_s_at_every_seed():
    assert re.search(r"five generator steps per discriminator step is the closest to the training digits at every "
                     r"sampling seed, at a bit more than half the DCGAN's distance", _paragraph(r"is the GAN we would"))
    arm = lambda g: seed_claims.arm(NAME, f"training-digit FD: {g}")  # noqa: E731
    for other in ("DCGAN", "GAN: strong D + minimax loss", "GAN: bad learning rate"):
        seed_claims.assert_beats(NAME, "training-digit FD: GAN: 5 G steps per D step", f"training-digit FD: {other}",
                                 lower_is_better=True)
    assert all(0.5 < a / b < 0.67 for a, b in zip(arm("GAN: 5 G steps per D step"), arm("DCGAN")))


def test_the_judge_ranks_the_generators_the_same_way_at_every_seed():
    order = ["GAN: 5 G steps per D step", "DCGAN", "GAN: bad learning rate", "VAE (lecture 06)",
             "plain AE, random codes", "GAN: strong D + minimax loss"]
    seed_claims.assert_ranking(NAME, [f"test FD: {g}" for g in order], lower_is_better=True)
    assert "at every sampling seed" in _paragraph(r"the table ranks the generators the way our eyes do")


def test_histogram_claims_hold_at_every_seed():
    share = lambda g: seed_claims.arm(NAME, f"largest class share: {g}")  # noqa: E731
    covered = lambda g: seed_claims.arm(NAME, f"digits covered: {g}")  # noqa: E731
    # the VAE: every digit covered, the smallest largest class of the three
    assert min(covered("VAE (lecture 06)")) == 10
    for other in ("plain AE, random codes", "DCGAN"):
        assert all(v < o for v, o in zip(share("VAE (lecture 06)"), share(other))), other
    # the plain AE: a larger share in one class than any other working model, some digits missing
    for other in ("VAE (lecture 06)", "DCGAN", "GAN: bad learning rate", "GAN: 5 G steps per D step"):
        assert all(a > o for a, o in zip(share("plain AE, random codes"), share(other))), other
    assert max(covered("plain AE, random codes")) <= 8
    # the DCGAN: about 2% 1s, 2s and 4s well below their fair 10%
    text = _paragraph(r"only about 2% of its samples are 1s")
    assert "2s and 4s are also well below their fair 10%" in text
    assert all(0.015 <= v < 0.025 for v in seed_claims.arm(NAME, "DCGAN: share of 1s"))
    assert all(v < 0.06 for d in (2, 4) for v in seed_claims.arm(NAME, f"DCGAN: share of {d}s"))
    # the balanced run: every digit covered and the lowest distance of the generators
    assert min(covered("GAN: 5 G steps per D step")) == 10


# training facts: the committed run ---------------------------------------------------------------------------------


def test_training_facts_are_said_to_describe_the_committed_run():
    assert "the committed run" in _paragraph(r"after about a thousand steps both moving averages")
    assert "the committed run's stored snapshots" in _paragraph(r"every row is the same 12 codes")
    assert "Each run was trained once (the committed run)" in _paragraph(r"Too strong a discriminator with the minimax")
    assert "**the committed run**" in _paragraph(r"Everything this lecture says about how training went")


def test_the_failure_modes_are_not_generalised_beyond_this_run_without_the_literature():
    text = _paragraph(r"Too strong a discriminator with the minimax")
    assert "quietest way for a GAN to fail" not in text
    assert "Arjovsky & Bottou (2017)" in text and "Goodfellow et al." in text
    assert "One run per setting cannot say how often each setting fails this way" in text
