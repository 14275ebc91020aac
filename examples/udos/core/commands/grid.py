"""Draw the uDOS grid: a fixed 80x30 tile map."""

WIDTH, HEIGHT = 80, 30


def run(args):
    for row in range(3):
        print("".join("." if (row + col) % 2 else ":" for col in range(WIDTH)))
    return 0
