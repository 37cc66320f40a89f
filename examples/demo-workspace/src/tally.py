"""A tiny tally counter."""

from collections import Counter


def tally(words: list[str]) -> Counter[str]:
    return Counter(w.lower() for w in words)


if __name__ == "__main__":
    import sys

    for word, count in tally(sys.argv[1:]).most_common():
        print(f"{count:>4} {word}")
