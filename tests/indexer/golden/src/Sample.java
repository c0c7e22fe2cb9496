package demo;

import java.util.List;

/** Sums numbers. */
public class Sample {
    private final List<Integer> values;

    public Sample(List<Integer> values) {
        this.values = values;
    }

    /** Total of all values. */
    public int total() {
        return values.stream().mapToInt(Integer::intValue).sum();
    }
}

interface Shape {
    double area();
}
