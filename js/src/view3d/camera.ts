// The 3D view's camera: fit the whole model in view.
import { Vector3, type PerspectiveCamera } from "three";
import type { OrbitControls } from "three/examples/jsm/controls/OrbitControls.js";
import type { Layout3D } from "../layout/layout3d";

/** Point `camera` (and the orbit `controls`) so the layers fill ~88% of a width x height view. */
export function fitCamera(layout: Layout3D, camera: PerspectiveCamera, controls: OrbitControls, width: number, height: number): void {
  const { min, max, rows } = layout;
  const center = new Vector3((min[0] + max[0]) / 2, (min[1] + max[1]) / 2, (min[2] + max[2]) / 2);
  const dir = rows > 1 ? new Vector3(0.15, 1.0, 0.75).normalize() : new Vector3(-0.62, 0.42, 1.0).normalize();
  // fit the layers' own corners (the global box's corners are far emptier than the content)
  const corners: Vector3[] = [];
  for (const b of layout.boxes) {
    for (let i = 0; i < 8; i++) {
      corners.push(new Vector3(
        b.center[0] + (i & 1 ? 0.5 : -0.5) * b.size[0],
        b.center[1] + (i & 2 ? 0.5 : -0.5) * b.size[1] + (i & 2 ? 1.6 : 0), // room for the label
        b.center[2] + (i & 4 ? 0.5 : -0.5) * b.size[2],
      ));
    }
  }
  if (!corners.length) corners.push(new Vector3(...min), new Vector3(...max));
  const radius = corners.reduce((r, c) => Math.max(r, c.distanceTo(center)), 1);
  camera.aspect = width > 0 && height > 0 ? width / height : 1.6;
  let dist = radius / Math.sin((camera.fov * Math.PI) / 360);
  // iterate: centre the projected content, then scale the distance so it fills ~88% of the view
  for (let it = 0; it < 10; it++) {
    camera.position.copy(center).addScaledVector(dir, dist);
    camera.near = dist / 100;
    camera.far = dist * 20;
    camera.lookAt(center);
    camera.updateProjectionMatrix();
    camera.updateMatrixWorld();
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (const c of corners) {
      const p = c.clone().project(camera);
      x0 = Math.min(x0, p.x); x1 = Math.max(x1, p.x); y0 = Math.min(y0, p.y); y1 = Math.max(y1, p.y);
    }
    const ext = Math.max((x1 - x0) / 2, (y1 - y0) / 2);
    if (!Number.isFinite(ext) || ext <= 0) break;
    const mid = new Vector3((x0 + x1) / 2, (y0 + y1) / 2, center.clone().project(camera).z).unproject(camera);
    center.copy(mid);
    if (Math.abs(ext - 0.88) < 0.01 && Math.abs(x0 + x1) < 0.02 && Math.abs(y0 + y1) < 0.02) break;
    dist *= Math.min(2, Math.max(0.3, ext / 0.88));
  }
  camera.position.copy(center).addScaledVector(dir, dist);
  camera.lookAt(center);
  camera.updateMatrixWorld();
  controls.target.copy(center);
  controls.minDistance = radius * 0.05;
  controls.maxDistance = radius * 12;
  controls.update();
}
