"""Encoder-decoder models with attention (issue 28): the model, its attention decoder,
greedy and beam-search decoding, special tokens and vocabularies (docs/seq2seq-model.md).
"""

from minirnn.nn.seq2seq.decode import Hypothesis, beam_search, greedy_decode, length_penalty
from minirnn.nn.seq2seq.decoder import AttentionDecoder, DecoderState
from minirnn.nn.seq2seq.model import EncoderDecoder
from minirnn.nn.seq2seq.vocab import (
    BOS,
    EOS,
    PAD,
    SPECIALS,
    UNK,
    decode_ids,
    encode_tokens,
    pad_ids,
    sequence_mask,
    target_arrays,
)

__all__ = ["BOS", "EOS", "PAD", "SPECIALS", "UNK", "AttentionDecoder", "DecoderState",
           "EncoderDecoder", "Hypothesis", "beam_search", "decode_ids", "encode_tokens",
           "greedy_decode", "length_penalty", "pad_ids", "sequence_mask", "target_arrays"]
