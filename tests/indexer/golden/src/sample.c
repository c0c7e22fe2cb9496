#include <stdio.h>

struct point {
    int x;
    int y;
};

/* Add two points. */
static struct point add_points(struct point a, struct point b) {
    struct point r = {a.x + b.x, a.y + b.y};
    return r;
}

int main(void) {
    struct point p = add_points((struct point){1, 2}, (struct point){3, 4});
    printf("%d %d\n", p.x, p.y);
    return 0;
}
