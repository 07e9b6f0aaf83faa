import type { StatMatrix } from "./types";

// Decoder of the server's binary statistic matrix (deepscope/server/binary.py): "DSM1", uint32
// header length, JSON header, padding to 8 bytes, row-major float32/float64 values. NaN becomes
// null (not recorded), as in the JSON form; +-Infinity stays a number (JSON cannot carry it).

interface Header {
  kind: string;
  field: string;
  layers: string[];
  steps: number[];
  dtype: "f32" | "f64";
  shape: [number, number];
}

export function decodeMatrix(buf: ArrayBuffer): StatMatrix {
  const view = new DataView(buf);
  const magic = String.fromCharCode(view.getUint8(0), view.getUint8(1), view.getUint8(2), view.getUint8(3));
  if (magic !== "DSM1") throw new Error("not a deepscope statistic matrix");
  const size = view.getUint32(4, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 8, size))) as Header;
  const start = 8 + size + ((8 - ((8 + size) % 8)) % 8);
  const [rows, cols] = header.shape;
  const all = header.dtype === "f32" ? new Float32Array(buf, start, rows * cols) : new Float64Array(buf, start, rows * cols);
  const values: (number | null)[][] = [];
  for (let i = 0; i < rows; i++) {
    const row = new Array<number | null>(cols);
    for (let j = 0; j < cols; j++) {
      const v = all[i * cols + j] as number;
      row[j] = Number.isNaN(v) ? null : v;
    }
    values.push(row);
  }
  return { kind: header.kind, field: header.field, layers: header.layers, steps: header.steps, values };
}
