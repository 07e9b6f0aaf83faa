// Messages between the view and the layout worker (src/graph/layout.worker.ts). Plain data only:
// the worker gets sizes and nesting, never DOM or user strings beyond ids.

/** One node to place: a leaf box of fixed size, or a group laid out around its children. */
export interface LayoutNode {
  id: string;
  /** A group's minimum width (its header). */
  width: number;
  height: number;
  /** Children of an expanded container (drawn as a group box around them). */
  children?: LayoutNode[];
}

export interface LayoutEdge {
  id: string;
  source: string;
  target: string;
  /** Expanded container holding both ends (null: top level); ELK wants edges there. */
  container: string | null;
}

export interface LayoutInput {
  nodes: LayoutNode[];
  edges: LayoutEdge[];
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Point {
  x: number;
  y: number;
}

/** Absolute coordinates (the worker converts ELK's nested ones). */
export interface LayoutResult {
  width: number;
  height: number;
  nodes: Record<string, Box>;
  /** Edge id -> polyline (start, bend points, end). */
  edges: Record<string, Point[]>;
}

export interface LayoutRequest {
  type: "layout";
  id: number;
  input: LayoutInput;
}

export type LayoutResponse =
  | { type: "layout"; id: number; result: LayoutResult; ms: number }
  | { type: "error"; id: number; message: string };
