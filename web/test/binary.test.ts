import { describe, expect, it } from "vitest";
import { decodeMatrix } from "../src/api/binary";

// Bodies written by deepscope.server.binary.encode_matrix (Python), base64:
//   StatMatrix("grad", "norm", ("a", "b"), [0, 5, 10], [[1.5, inf, nan], [0.25, -2.0, 0.0]])
//   StatMatrix("grad", "norm", ("a",), [0, 5, 10], [[1e-45, 1e39, nan]])   (float64: float32 would lose both)
const F32 = "RFNNMV4AAAB7ImtpbmQiOiJncmFkIiwiZmllbGQiOiJub3JtIiwibGF5ZXJzIjpbImEiLCJiIl0sInN0ZXBzIjpbMCw1LDEwXSwiZHR5cGUiOiJmMzIiLCJzaGFwZSI6WzIsM119AAAAAMA/AACAfwAAwH8AAIA+AAAAwAAAAAA=";
const F64 = "RFNNMVoAAAB7ImtpbmQiOiJncmFkIiwiZmllbGQiOiJub3JtIiwibGF5ZXJzIjpbImEiXSwic3RlcHMiOlswLDUsMTBdLCJkdHlwZSI6ImY2NCIsInNoYXBlIjpbMSwzXX0AAAAAAAC5ajetAdaWNh1KnPSHggdIAAAAAAAA+H8=";

function buffer(b64: string): ArrayBuffer {
  const text = atob(b64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes.buffer;
}

describe("decodeMatrix", () => {
  it("reads float32 bodies: NaN is null, Infinity stays", () => {
    const m = decodeMatrix(buffer(F32));
    expect(m.kind).toBe("grad");
    expect(m.layers).toEqual(["a", "b"]);
    expect(m.steps).toEqual([0, 5, 10]);
    expect(m.values).toEqual([[1.5, Infinity, null], [0.25, -2, 0]]);
  });
  it("reads float64 bodies exactly", () => {
    const m = decodeMatrix(buffer(F64));
    expect(m.values).toEqual([[1e-45, 1e39, null]]);
  });
  it("refuses other bodies", () => {
    expect(() => decodeMatrix(new TextEncoder().encode("{\"kind\": 1}").buffer as ArrayBuffer)).toThrow(/not a deepscope/);
  });
});
