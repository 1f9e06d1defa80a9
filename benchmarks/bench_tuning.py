"""Tuning: TPE with median pruning against random search without pruning, on the wine table of the quality benchmark.

Both studies search the same space (learning rate 1e-5 to 1, log scale; weight decay 0 to 1) of the default
tabular model for the same number of trials, each trial a 40-epoch dlproj run, minimising the validation loss.
Reported: the best validation loss against the number of trials for each, the epochs each study trained, and
the RESULT: the share of random search's epochs that TPE with pruning needed to reach random search's best value
(counting the epochs of its trials up to the first one at least as good), target at most 60%.
"""
from __future__ import annotations
import _common as C
import tempfile
from pathlib import Path

C.setup()
import numpy as np, pandas as pd
from sklearn.datasets import load_wine
from dlproj.hyperparameter_tuning import tune

TRIALS, EPOCHS, TARGET = 24, 40, 0.60

def study(tmp:Path, name:str, *overrides:str):
    cfg = {'experiment': name, 'seed': 0, 'data': {'source': str(tmp/'wine.csv'), 'target': 'target'},
           'output': {'runs_dir': str(tmp/'runs'), 'plots': False, 'report': False},
           'train': {'epochs': EPOCHS, 'progress': False, 'early_stopping': None},
           'tune': {'trials': TRIALS, 'space': {'train.lr': {'low': 1e-5, 'high': 1.0, 'log': True}, 'train.wd': {'low': 0.0, 'high': 1.0}}}}
    st = tune(cfg, *overrides)
    rows = []
    for t in sorted((t for t in st.trials if t.state.name in ('COMPLETE', 'PRUNED')), key=lambda t: t.number):
        epochs = len(pd.read_csv(Path(t.user_attrs['run'])/'history.csv'))
        rows.append(dict(trial=t.number + 1, state=t.state.name.lower(), value=t.value, epochs=epochs))
    df = pd.DataFrame(rows)
    df['best_so_far'] = df.value.where(df.state == 'complete').cummin().ffill()
    df['epochs_so_far'] = df.epochs.cumsum()
    return df

def main():
    C.header('Tuning: TPE + median pruning vs random search', f"{TRIALS} trials each, {EPOCHS}-epoch runs of the default tabular model on wine (178 rows), "
             "minimising the validation loss; seed 0")
    tmp = Path(tempfile.mkdtemp())
    w = load_wine(as_frame=True); w.frame.assign(target=w.frame.target.map(dict(enumerate(w.target_names)))).to_csv(tmp/'wine.csv', index=False)
    tpe = study(tmp, 'tpe')
    rnd = study(tmp, 'random', 'tune.sampler=random', 'tune.pruner=none')
    target = rnd.best_so_far.iloc[-1]
    reached = tpe[tpe.best_so_far <= target + 1e-12]
    share = reached.epochs_so_far.iloc[0] / rnd.epochs.sum() if len(reached) else float('inf')
    print('## Best validation loss after n trials\n')
    C.table([{'trials': n, 'TPE + pruning': tpe.best_so_far.iloc[n-1], 'random': rnd.best_so_far.iloc[n-1],
              'TPE epochs so far': int(tpe.epochs_so_far.iloc[n-1]), 'random epochs so far': int(rnd.epochs_so_far.iloc[n-1])}
             for n in (1, 2, 4, 8, 12, 16, 20, 24) if n <= min(len(tpe), len(rnd))], nd=4)
    pruned = int((tpe.state == 'pruned').sum())
    print(f"TPE + pruning: {pruned} of {len(tpe)} trials pruned, {int(tpe.epochs.sum())} epochs in all; random search: {int(rnd.epochs.sum())} epochs "
          f"(pruning saved {1 - tpe.epochs.sum() / rnd.epochs.sum():.0%}); random search's best {target:.4f}"
          + (f", reached by TPE at trial {int(reached.trial.iloc[0])} after {int(reached.epochs_so_far.iloc[0])} epochs" if len(reached) else ', not reached by TPE') + '\n')
    C.result('tuning_tpe_pruning_epochs_to_random_best', share, TARGET)
    C.save('bench_tuning', tpe=tpe.to_dict('records'), random=rnd.to_dict('records'), share=share)

if __name__ == '__main__': main()
