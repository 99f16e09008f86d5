"""Convolutional encoders and decoders round-trip every image size."""

import pytest
import torch

from genlab.models.nets import ConvDecoder, ConvEncoder, conv_sizes


@pytest.mark.parametrize("size,expected", [(8, [8, 4]), (28, [28, 14, 7]), (32, [32, 16, 8, 4]),
                                           (64, [64, 32, 16, 8, 4])])
def test_conv_sizes(size, expected):
    assert conv_sizes(size) == expected


@pytest.mark.parametrize("size", [8, 28, 32, 50, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_encoder_decoder_shapes(size, channels):
    enc, dec = ConvEncoder((channels, size, size), 6, width=4), ConvDecoder(6, (channels, size, size), width=4)
    x = torch.zeros(2, channels, size, size)
    assert enc(x).shape == (2, 6)
    assert dec(enc(x)).shape == x.shape


def test_encoder_refuses_non_square_images():
    with pytest.raises(ValueError):
        ConvEncoder((1, 8, 10), 4)
