"""Precompute the real embeddings that 01_embeddings uses, into data/embeddings.npz.

Runs the packaged all-MiniLM-L6-v2 (offline) once, so the notebook itself needs
no PyTorch and starts in a second. Re-run after changing the lists below:

    .venv/bin/python scripts/make_embeddings.py
"""

from pathlib import Path

import numpy as np

from attnlab.data import EMBEDDINGS_FILE, data_dir
from attnlab.models import embed, load_model

# The lecture's three sentences come first; the rest give the heatmap texture.
SENTENCES = [
    "earthquake damage on the coast",
    "seismic destruction near shore",
    "prolonged drought and water shortage",
    "a tsunami flooded the seaside town",
    "crops failed after months without rain",
    "the reservoir is nearly empty this summer",
    "the cat sat on the mat",
    "a kitten is sleeping on the rug",
    "the stock market fell sharply today",
    "investors sold shares as prices dropped",
    "students closed the campus after heavy snow",
    "the university cancelled classes because of a blizzard",
]

# Single words, grouped by theme so nearest neighbours have something to find.
WORDS = """
earthquake seismic tremor quake tsunami flood hurricane storm tornado volcano eruption disaster
damage destruction ruin collapse coast shore beach sea ocean island harbor wave
drought dry rain water shortage thirst desert irrigation reservoir river lake well
snow blizzard ice cold winter frost campus university school student teacher class lecture exam
cat kitten dog puppy mouse horse cow lion tiger bird eagle fish shark animal pet
king queen prince princess man woman boy girl father mother son daughter
paris france london england berlin germany rome italy tokyo japan
apple banana orange grape bread cheese pizza pasta coffee tea milk sugar
car bus train plane bicycle road street bridge airport station
happy sad angry joy fear love hate calm tired sleepy
money bank market stock price investor trade profit loss economy
computer keyboard software code program internet network data algorithm robot
red green blue yellow black white
run walk jump swim fly drive sleep eat drink read write
""".split()


def main() -> Path:
    tokenizer, model = load_model()
    out = data_dir() / EMBEDDINGS_FILE
    np.savez_compressed(
        out,
        model=np.array("sentence-transformers/all-MiniLM-L6-v2 (mean pooling, not normalised)"),
        sentences=np.array(SENTENCES),
        sentence_vectors=embed(SENTENCES, tokenizer, model),
        words=np.array(WORDS),
        word_vectors=embed(WORDS, tokenizer, model),
    )
    print(f"wrote {out} ({len(SENTENCES)} sentences, {len(WORDS)} words)")
    return out


if __name__ == "__main__":
    main()
