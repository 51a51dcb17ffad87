"""Each claim of lecture 03 "PCA versus linear autoencoder, then deep autoencoders", checked on the notebook's own
code (cells tagged 'export')."""

import math

import numpy as np
import pytest
import torch
import torch.nn as nn
from notebook_code import load_exported

import course_utils as cu
from course_utils.data import TensorLoader

nb = load_exported("03_pca_and_autoencoders")


@pytest.fixture(scope="module")
def mnist_500(mnist_train):
    """A fixed small set: the first 500 training digits of the offline subset, as (500, 784) vectors."""
    return mnist_train.images[:500].flatten(1)


def _data_with_a_spectral_gap(n=2000, d=40, k=5, seed=0):
    """n points in R^d: k strong directions (standard deviations 3.0 ... 2.0) plus weak noise (0.1)."""
    g = torch.Generator().manual_seed(seed)
    basis = torch.linalg.qr(torch.randn(d, d, generator=g)).Q[:, :k]
    strong = torch.randn(n, k, generator=g) * torch.linspace(3.0, 2.0, k)
    return strong @ basis.T + 0.1 * torch.randn(n, d, generator=g) + 0.5, basis


def _train_linear_autoencoder(X, k, epochs=20, lbfgs_iterations=100):
    mean = X.mean(dim=0)
    Xc = X - mean
    model = nb.LinearAutoencoder(X.shape[1], k)
    cu.fit(model, TensorLoader(Xc, Xc, batch_size=64, shuffle=True), nb.reconstruction_loss,
           torch.optim.Adam(model.parameters(), lr=3e-3), epochs=epochs, verbose=False)
    error = nb.polish_with_lbfgs(model, Xc, iterations=lbfgs_iterations)
    return model, error


# 1. PCA by SVD ---------------------------------------------------------------------------------------------


def test_reconstruction_loss_sums_squared_errors_over_pixels_and_averages_over_images():
    x = torch.zeros(2, 1, 28, 28)
    x_hat = x.clone()
    x_hat[0, 0, 0, :3] = 1.0  # image 0: error 3
    x_hat[1, 0, 5, 5] = 2.0  # image 1: error 4
    torch.testing.assert_close(nb.squared_error_per_image(x_hat, x), torch.tensor([3.0, 4.0]))
    assert nb.reconstruction_loss(x_hat, x).item() == pytest.approx(3.5)


def test_pca_by_svd_reconstructs_exactly_with_all_components(mnist_500):
    mean, components, _ = nb.pca_fit(mnist_500)
    assert components.shape == (500, 784)  # r = min(N, d)
    torch.testing.assert_close(nb.pca_reconstruct(mnist_500, mean, components, 500), mnist_500, atol=1e-4, rtol=0)


def test_pca_components_are_orthonormal_and_sorted_by_the_covariance_eigenvalues():
    X, _ = _data_with_a_spectral_gap()
    mean, components, variances = nb.pca_fit(X)
    torch.testing.assert_close(components @ components.T, torch.eye(len(components)), atol=1e-5, rtol=0)
    assert bool((variances[:-1] >= variances[1:]).all())
    eigenvalues = np.linalg.eigvalsh(np.cov(X.double().numpy(), rowvar=False, bias=True))[::-1]
    np.testing.assert_allclose(variances.numpy(), eigenvalues[: len(variances)], rtol=1e-4, atol=1e-6)


def test_pca_error_decreases_with_k_and_equals_the_discarded_variance(mnist_500):
    mean, components, variances = nb.pca_fit(mnist_500)
    errors = [nb.squared_error_per_image(nb.pca_reconstruct(mnist_500, mean, components, k), mnist_500).mean().item()
              for k in (1, 2, 5, 10, 30, 100, 300)]
    assert all(a > b for a, b in zip(errors, errors[1:])), errors
    for k, error in zip((1, 2, 5, 10, 30, 100, 300), errors):
        assert error == pytest.approx(variances[k:].sum().item(), rel=1e-3)


# 2. Linear autoencoder versus PCA ---------------------------------------------------------------------------


def test_principal_angles_of_known_subspaces():
    e = torch.eye(4)
    plane = e[:, :2]
    other_basis = plane @ torch.tensor([[2.0, 1.0], [1.0, 3.0]])
    assert nb.principal_angles_deg(plane, other_basis).max().item() < 1e-4
    theta = math.radians(30)
    tilted = torch.stack([e[0], math.cos(theta) * e[1] + math.sin(theta) * e[2]], dim=1)
    np.testing.assert_allclose(nb.principal_angles_deg(plane, tilted).numpy(), [0.0, 30.0], atol=1e-4)
    np.testing.assert_allclose(nb.principal_angles_deg(plane, e[:, 2:]).numpy(), [90.0, 90.0], atol=1e-4)


def test_linear_autoencoder_matches_pca_error_within_1_percent(mnist_500):
    k = 10
    _, ae_error = _train_linear_autoencoder(mnist_500, k)
    mean, components, variances = nb.pca_fit(mnist_500)
    pca_error = variances[k:].sum().item()
    assert ae_error >= pca_error * (1 - 1e-4), "a linear AE cannot beat PCA (Eckart-Young)"
    assert ae_error / pca_error <= 1.01


def test_linear_autoencoder_spans_the_principal_subspace_when_the_spectrum_has_a_gap():
    X, true_basis = _data_with_a_spectral_gap()
    model, _ = _train_linear_autoencoder(X, k=5, epochs=10)
    _, components, _ = nb.pca_fit(X)
    angles = nb.principal_angles_deg(model.decoder.weight.detach(), components[:5].T)
    assert angles.max().item() < 1.0, angles
    assert nb.principal_angles_deg(model.decoder.weight.detach(), true_basis).max().item() < 2.0


def test_linear_autoencoder_basis_is_not_orthonormal_but_any_invertible_change_of_basis_is_equivalent():
    X, _ = _data_with_a_spectral_gap()
    model, _ = _train_linear_autoencoder(X, k=5, epochs=10)
    D = model.decoder.weight.detach().double()
    E = model.encoder.weight.detach().double()
    assert (D.T @ D - torch.eye(5, dtype=torch.float64)).abs().max() > 0.05, "the AE's basis should not be PCA's"
    A = torch.randn(5, 5, dtype=torch.float64) + 3 * torch.eye(5, dtype=torch.float64)
    torch.testing.assert_close(D @ E, (D @ torch.linalg.inv(A)) @ (A @ E))


# 3. The 8-3-8 encoder ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_838_encoder_learns_8_distinct_binary_codes(seed):
    torch.manual_seed(seed)
    model = nb.Encoder838()
    loss = nb.train_838(model)
    assert loss < 0.01
    with torch.no_grad():
        codes = model.encoder(torch.eye(8))
        decoded = model(torch.eye(8)).argmax(dim=1)
    assert len({tuple(c) for c in codes.round().int().tolist()}) == 8
    assert torch.equal(decoded, torch.arange(8))
    assert (codes - codes.round()).abs().mean().item() < 0.1, "codes should sit near the corners of the cube"


# 4.-6. Deep, convolutional and stacked autoencoders ---------------------------------------------------------


def test_hinton_salakhutdinov_shape_has_2_8_million_parameters_and_mirrors_its_layers():
    model = nb.MLPAutoencoder((784, 1000, 500, 250, 30))
    assert sum(p.numel() for p in model.parameters()) == 2_837_314
    x = torch.rand(3, 1, 28, 28)
    assert model(x).shape == x.shape
    assert model.encoder(x.flatten(1)).shape == (3, 30)
    for i in range(4):  # encoder[i] and decoder[-1-i] are the two halves of one shallow autoencoder
        assert model.encoder[i][0].weight.shape == model.decoder[3 - i][0].weight.T.shape


def test_conv_autoencoder_shapes_and_output_range():
    model = nb.ConvAutoencoder(code_size=30)
    x = torch.rand(4, 1, 28, 28)
    assert model.encoder(x).shape == (4, 30)
    out = model(x)
    assert out.shape == x.shape
    assert out.min() >= 0 and out.max() <= 1
    assert sum(p.numel() for p in model.parameters()) < 0.05 * 2_837_314


def test_greedy_pretraining_trains_every_layer_of_the_deep_model_in_place(mnist_500):
    model = nb.MLPAutoencoder((784, 32, 8))
    before = [p.detach().clone() for p in model.parameters()]
    images = mnist_500[:200].view(-1, 1, 28, 28)
    untrained = nb.reconstruction_loss(model(images), images).item()
    errors = nb.pretrain_layer_by_layer(model, images, epochs=3)
    assert len(errors) == 2
    assert all(not torch.equal(b, p) for b, p in zip(before, model.parameters()))
    with torch.no_grad():
        assert nb.reconstruction_loss(model(images), images).item() < untrained


def test_sparsity_penalty_makes_codes_sparser(mnist_500):
    images = mnist_500[:300].view(-1, 1, 28, 28)
    inactive = {}
    for beta in (0.0, 0.1):
        torch.manual_seed(0)
        model = nb.train_sparse_autoencoder(nb.SparseAutoencoder(256), images, beta, epochs=6, batch_size=32)
        with torch.no_grad():
            inactive[beta] = nb.fraction_inactive(model.encoder(images))
    assert inactive[0.1] > inactive[0.0] + 0.1, inactive


# 8. Using the code ------------------------------------------------------------------------------------------


def test_nearest_neighbours_match_brute_force_in_every_chunk():
    database, queries = torch.randn(300, 7), torch.randn(53, 7)
    hits = nb.nearest_neighbours(queries, database, k=5, chunk=10)
    expected = torch.cdist(queries, database).argsort(dim=1)[:, :5]
    assert torch.equal(hits, expected)


def test_precision_at_k_counts_hits_with_the_query_label():
    hit_labels = torch.tensor([[1, 1, 2, 1], [0, 3, 3, 3]])
    assert nb.precision_at_k(hit_labels, torch.tensor([1, 3])) == pytest.approx(6 / 8)


def test_non_digit_images_look_like_mnist_inputs():
    letters, patches = nb.letter_images(), nb.photo_patches()
    assert letters.shape == (78, 1, 28, 28) and patches.shape == (96, 1, 28, 28)
    for images in (letters, patches):
        assert images.min() >= 0 and images.max() <= 1
    # letters: white strokes on a black border, inside a 20x20 box like MNIST digits
    assert letters[:, :, :3].max() == 0 and letters[:, :, :, :3].max() == 0
    assert (letters.flatten(1) > 0.5).any(dim=1).all()


def test_reconstruction_error_separates_photo_patches_from_digits_with_pca(mnist_500):
    mean, components, _ = nb.pca_fit(mnist_500)
    test_digits = cu.load_mnist("test", verbose=False).images[:200]
    patches = nb.photo_patches()

    def score(images):
        return nb.squared_error_per_image(nb.pca_reconstruct(images.flatten(1), mean, components, 30),
                                          images.flatten(1))

    scores = torch.cat([score(test_digits), score(patches)])
    labels = torch.cat([torch.zeros(len(test_digits)), torch.ones(len(patches))])
    assert nb.roc_auc(scores, labels) > 0.9


def test_the_exported_cells_define_no_training_or_data_loading():
    assert not hasattr(nb, "train") and not hasattr(nb, "conv_ae")
    assert isinstance(nb.LinearAutoencoder(), nn.Module)
