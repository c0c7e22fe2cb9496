<?php

namespace App;

/** A shopping cart. */
class Cart
{
    private array $items = [];

    /** Add an item. */
    public function add(string $sku, int $qty): void
    {
        $this->items[$sku] = ($this->items[$sku] ?? 0) + $qty;
    }

    public function total(): int
    {
        return array_sum($this->items);
    }
}

function make_cart(): Cart
{
    return new Cart();
}
