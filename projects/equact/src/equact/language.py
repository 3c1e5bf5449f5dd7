"""Instruction encoder: learned word tokens (trained from scratch) or precomputed CLIP features.

The official code encodes instructions with the CLIP text model (53 tokens x 512) and feeds them
to a small readout transformer whose readout token is the iFiLM condition. CLIP weights cannot be
downloaded here, so :class:`InstructionEncoder` embeds word tokens from the task templates'
vocabulary (:class:`Vocabulary`) instead; given ``clip_features`` (B, T, clip_dim) it projects
those through ``Linear(clip_dim -> width)`` and the same readout transformer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

import torch
from torch import nn

PAD, UNK = "<pad>", "<unk>"
CLIP_TEXT_WIDTH = 512  # openai/clip-vit-base-patch32 text width
CLIP_TOKENS = 53  # tokens per instruction in the official pre-encoded features


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens (letters/digits), punctuation dropped."""
    return re.findall(r"[a-z0-9]+", text.lower())


class Vocabulary:
    """Word vocabulary built from the instructions of a dataset (index 0 pad, 1 unknown)."""

    def __init__(self, words: Sequence[str]):
        self.words = [PAD, UNK] + sorted(set(words) - {PAD, UNK})
        self.index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def from_instructions(cls, instructions: Iterable[str]) -> Vocabulary:
        return cls([w for text in instructions for w in tokenize(text)])

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, instructions: Sequence[str], max_len: int) -> torch.Tensor:
        """Token ids (B, max_len), padded with 0 and truncated to ``max_len``."""
        out = torch.zeros(len(instructions), max_len, dtype=torch.long)
        for row, text in enumerate(instructions):
            ids = [self.index.get(w, 1) for w in tokenize(text)][:max_len]
            out[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        return out


def sincos_positions(n: int, dim: int) -> torch.Tensor:
    """Fixed sine-cosine position table (n, dim)."""
    pos = torch.arange(n, dtype=torch.float32)[:, None]
    freq = torch.exp(-math.log(10000.0) * torch.arange(0, dim, 2, dtype=torch.float32) / dim)
    table = torch.zeros(n, dim)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return table


class InstructionEncoder(nn.Module):
    """Instruction -> condition vector (B, width) via a readout-token transformer.

    Parameters
    ----------
    vocab_size : size of the learned token table (0: CLIP features only)
    width, layers, heads, mlp : readout transformer (paper: 128, 4, 6 x 64, 256)
    max_tokens : longest instruction (positions)
    clip_dim : width of precomputed CLIP text features accepted by ``forward``
    """

    def __init__(
        self,
        vocab_size: int,
        width: int = 128,
        layers: int = 4,
        heads: int = 4,
        mlp: int = 256,
        max_tokens: int = CLIP_TOKENS,
        clip_dim: int = CLIP_TEXT_WIDTH,
    ):
        super().__init__()
        self.tokens = nn.Embedding(max(vocab_size, 2), width, padding_idx=0)
        self.clip_proj = nn.Linear(clip_dim, width)
        self.readout = nn.Parameter(torch.randn(1, 1, width) * 0.02)
        self.register_buffer("positions", sincos_positions(max_tokens, width), persistent=False)
        layer = nn.TransformerEncoderLayer(
            width, heads, mlp, dropout=0.0, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.clip_dim, self.max_tokens = clip_dim, max_tokens

    def forward(
        self,
        tokens: torch.Tensor | None = None,
        clip_features: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Encode ``tokens`` (B, T) ids, or ``clip_features`` (B, T, clip_dim) with an optional
        validity ``mask`` (B, T). Exactly one of the two must be given."""
        if (tokens is None) == (clip_features is None):
            raise ValueError("pass exactly one of tokens or clip_features")
        if tokens is not None:
            emb, valid = self.tokens(tokens), tokens != 0
        else:
            if clip_features.shape[-1] != self.clip_dim:
                raise ValueError(
                    f"clip_features have width {clip_features.shape[-1]}, expected {self.clip_dim}"
                )
            emb = self.clip_proj(clip_features)
            valid = mask if mask is not None else torch.ones(emb.shape[:2], dtype=torch.bool)
            valid = valid.to(emb.device)
        t = emb.shape[1]
        if t > self.max_tokens:
            raise ValueError(f"instruction of {t} tokens exceeds max_tokens={self.max_tokens}")
        emb = emb + self.positions[:t]
        x = torch.cat([self.readout.expand(len(emb), -1, -1), emb], dim=1)
        keep = torch.cat([torch.ones_like(valid[:, :1]), valid], dim=1)
        return self.norm(self.encoder(x, src_key_padding_mask=~keep)[:, 0])
