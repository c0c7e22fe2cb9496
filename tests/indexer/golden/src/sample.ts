export interface Point {
  x: number;
  y: number;
}

/** Distance between two points. */
export function distance(a: Point, b: Point): number {
  return Math.hypot(a.x - b.x, a.y - b.y);
}

export class Path {
  private points: Point[] = [];

  add(p: Point): void {
    this.points.push(p);
  }

  length(): number {
    return this.points.slice(1).reduce((acc, p, i) => acc + distance(this.points[i], p), 0);
  }
}
