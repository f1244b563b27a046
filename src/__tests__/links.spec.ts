import { openRunLinksHere, runOfLink } from '../runs/links';

const APP = 'http://localhost:8888/base/lab';

describe('run links', () => {
  it('knows the run links of this JupyterLab', () => {
    expect(runOfLink('/base/lab?mlops-run=abc_12-3', APP)).toBe('abc_12-3');
    expect(
      runOfLink('http://localhost:8888/base/lab/?x=1&mlops-run=r1', APP)
    ).toBe('r1');
  });

  it('leaves every other link alone', () => {
    expect(runOfLink('/base/lab', APP)).toBeNull();
    expect(runOfLink('/other/lab?mlops-run=r1', APP)).toBeNull();
    expect(
      runOfLink('http://elsewhere:8888/base/lab?mlops-run=r1', APP)
    ).toBeNull();
    expect(runOfLink('/base/lab/tree/x.ipynb?mlops-run=r1', APP)).toBeNull();
    expect(runOfLink('/base/lab?mlops-run=../../etc', APP)).toBeNull();
    expect(runOfLink('http://[bad', APP)).toBeNull();
    expect(
      runOfLink('http://mlflow:5000/#/experiments/1/runs/r1', APP)
    ).toBeNull();
  });

  it('opens a clicked run link here and lets modified clicks through', () => {
    document.body.innerHTML =
      '<div class="card"><a id="run" href="/base/lab?mlops-run=r9" target="_blank"><b>open</b></a>' +
      '<a id="other" href="http://mlflow:5000/">mlflow</a></div>';
    const opened: string[] = [];
    const links = openRunLinksHere(
      document.body,
      'http://localhost/base/lab',
      id => opened.push(id)
    );
    const click = (id: string, init: MouseEventInit = {}) => {
      const event = new MouseEvent('click', {
        bubbles: true,
        cancelable: true,
        ...init
      });
      document.querySelector(`#${id}`)!.firstChild!.dispatchEvent(event);
      return event.defaultPrevented;
    };
    expect(click('run')).toBe(true);
    expect(opened).toEqual(['r9']);
    expect(click('run', { ctrlKey: true })).toBe(false);
    expect(click('other')).toBe(false);
    expect(opened).toEqual(['r9']);
    links.dispose();
    expect(links.isDisposed).toBe(true);
    expect(click('run')).toBe(false);
    expect(opened).toEqual(['r9']);
  });
});
