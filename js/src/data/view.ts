// What every sub-view (3D scene, 2D graph, details panel, metrics chart, legend) gets and returns.
import type { Theme } from "../styles/theme";
import type { Store } from "./store";
import type { CameraState, ViewState } from "./types";

/** Text-only tooltip rows: [label, value]. Rendered with textContent (layer names are untrusted). */
export type TooltipRows = [string, string][];

export interface ViewContext {
  store: Store;
  /** Current view state (epoch, layer, mode, colorBy, deltaRef, maxConnections) from the model. */
  state(): ViewState;
  /** Select a layer ("" clears): sets the model's `layer` (and `_layer_index`) and saves. */
  select(layer: string): void;
  /** Open / close modules: sets the model's `expanded` (module paths, layout/hierarchy.ts) and saves. */
  setExpanded(paths: string[]): void;
  /** Jump to an epoch (sets the model's `epoch` and saves). */
  setEpoch(epoch: number): void;
  /** Called with the names of the ViewState fields that changed; returns an unsubscribe. */
  onState(cb: (changed: Set<keyof ViewState>) => void): () => void;
  /** Shared tooltip of this view. x, y are client coordinates. */
  showTooltip(x: number, y: number, title: string, rows: TooltipRows): void;
  hideTooltip(): void;
  /** Set a data-* attribute on the view's root (tests read them), e.g. setData("connectionsDrawn", 20000). */
  setData(key: string, value: string | number): void;
  /** Ask the host to repaint (views render on demand, not in a loop). */
  requestFrame(): void;
  /** The host's theme now (styles/theme.ts): the colors to paint with, and `dark`. */
  theme(): Theme;
  /** Called when the host's theme changes (the widget's CSS variables and the color scales have
   *  already followed); returns an unsubscribe. Views repaint what they drew with its colors. */
  onTheme(cb: (t: Theme) => void): () => void;
  /** The `_camera` trait now (the shared camera of linked views; {} when nobody moved one). */
  camera(): CameraState;
  /** The user moved this view's camera: write it to `_camera` (throttled; merged per mode). */
  setCamera<K extends keyof CameraState>(mode: K, value: NonNullable<CameraState[K]>): void;
  /** Called when `_camera` changes from outside this view (a linked view); returns an unsubscribe. */
  onCamera(cb: (c: CameraState) => void): () => void;
}

/** A piece of the view. `destroy` frees GPU resources and removes exactly the listeners it added. */
export interface SubView {
  readonly el: HTMLElement;
  resize(width: number, height: number): void;
  destroy(): void;
}
