import React from "react";

type Props = { label: string };

/** A button with a label. */
export function Button({ label }: Props) {
  return <button onClick={() => track(label)}>{label}</button>;
}

function track(name: string): void {
  console.log(name);
}
