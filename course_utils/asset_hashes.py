"""SHA-256 of every file in ``assets/`` at course version ``VERSION``: a checkpoint downloaded from that version is
loaded only if its hash is the one here (:mod:`course_utils.checkpoints`).

Written by ``make release VERSION=...`` (tools/release.py); do not edit. A test fails when this table and the files in
assets/ disagree: after retraining a checkpoint, run ``make release`` again.
"""

VERSION = "main"

SHA256 = {
    "06_ae_l2_z16.pt": "8d5f9553abc89806a2eb1d78c8c6c0e374b1e1eebc4cf6147615dbb71457a640",
    "06_ae_z16.pt": "a26280df6294ed47e31dbb25317b15d5f339fb6afc2cce41361c694a65dbf5cc",
    "06_ae_z2.pt": "778bac43b1f8d92d7cf67667c9e22e598a2e30acf5b8a495a6cd825bbeb65d21",
    "06_vae_z16.pt": "26b92aaef4a4882b26813d1f9b8d55fbcefba779c91b72385011ba794a0f92f8",
    "06_vae_z2_beta0.1.pt": "2a7d751e9172a6c1e7a6435eeb96dd6b1e8fb3f310e1f6902afb49f4e9b8ff6f",
    "06_vae_z2_beta0.5.pt": "b73a4e8c9bae6003f07ef8fe5233362f1a1a92292a70e736bb45dc6887e50a2f",
    "06_vae_z2_beta1.pt": "c2ccffbb9f6048ccabf2f49225b07f37185841b8c3c304dc7effbae472686473",
    "06_vae_z2_beta4.pt": "b5fda600768dc01599d5a57c26f7fbfd1317fd05666207c628b6700a39166c04",
    "07_dcgan.pt": "4db5734c9cfa687381b20f07103fcf2e0021a877e63c20bdbd172aade5403404",
    "07_gan_bad_lr.pt": "2252d05c1b6474d5188b9ed061f88da4a5f9a0952f02efab005cfc4e7b5ef5a0",
    "07_gan_fast_g.pt": "b65965ccf885c1e8b8932e82b667ca7de714439e98a5cab6930542dbeeea0787",
    "07_gan_strong_d.pt": "1c9ca9ce316edbc09057c73ab4762a5def32b773cfe060d0b7a493608308590f",
    "08_diffusion.pt": "61d2955721b374a36254cd0a8e71322c25b27584b3d183f0841fac87f74debec",
    "judge_mnist.pt": "a0392b3f19fad94e7ad41fb0adee6673b57569bd8038d3e7348b3827a342669a",
}
